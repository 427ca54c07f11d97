"""The chain-group pool: results in unit order whatever process ran them; failures surface."""

import multiprocessing
import os
import signal
import time

import pytest

from patternlang.engine.sampler import pool
from patternlang.engine.sampler.pool import cpu_workers, map_units


def _square(x: tuple[int, float]) -> int:
    time.sleep(x[1])
    return x[0] ** 2


def _fail(x: int) -> int:
    raise ValueError(f"bad unit {x}")


def test_cpu_workers_bounds():
    assert cpu_workers(1) == 1
    assert cpu_workers(8, 3) == 3
    assert cpu_workers(2, 16) == 2
    assert 1 <= cpu_workers(100) <= 100


def test_results_in_unit_order_with_helpers():
    done = []
    units = [(i, 1.5) for i in range(4)]
    assert map_units(_square, units, 2, on_done=lambda i, r: done.append(i)) == [0, 1, 4, 9]
    assert sorted(done) == [0, 1, 2, 3]


def _square_where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


class _SpyContext:
    """The spawn context, keeping the processes it makes."""

    def __init__(self, method: str):
        self.ctx, self.made = multiprocessing.get_context(method), []

    def __getattr__(self, name):
        return getattr(self.ctx, name)

    def Process(self, *args, **kwargs):
        p = self.ctx.Process(*args, **kwargs)
        self.made.append(p)
        return p


def test_short_work_does_not_wait_for_helpers(monkeypatch):
    """The helper is held in its initializer (a 10-minute sleep), so it can claim no unit: the caller
    must run every unit itself and then stop the helper rather than wait for it (a pool that joined
    its helpers would return only after the sleep, with exit code 0, and fail here)."""
    spy = {}
    monkeypatch.setattr(pool, "get_context", lambda method: spy.setdefault("ctx", _SpyContext(method)))
    out = map_units(_square_where, list(range(6)), 2, initializer=time.sleep, initargs=(600,))
    assert [r for r, _ in out] == [i * i for i in range(6)]
    assert {pid for _, pid in out} == {os.getpid()}  # the caller did it all
    helpers = spy["ctx"].made
    assert len(helpers) == 1 and helpers[0].exitcode == -signal.SIGTERM  # stopped, not waited for


def test_a_failing_unit_raises():
    with pytest.raises((ValueError, RuntimeError), match="bad unit|failed"):
        map_units(_fail, [1, 2, 3], 2)

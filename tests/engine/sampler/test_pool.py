"""The chain-group pool: results in unit order whatever process ran them; failures surface."""

import time

import pytest

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


def test_short_work_does_not_wait_for_helpers():
    t = time.perf_counter()
    assert map_units(_square, [(i, 0.0) for i in range(6)], 2) == [i * i for i in range(6)]
    assert time.perf_counter() - t < 5.0  # the caller did it all; the importing helper was stopped


def test_a_failing_unit_raises():
    with pytest.raises((ValueError, RuntimeError), match="bad unit|failed"):
        map_units(_fail, [1, 2, 3], 2)

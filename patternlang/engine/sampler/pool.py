"""Run independent sampler units (chain groups) on several cores, results in unit order.

A chain group's numbers depend only on ``(seed, chain)`` (see :func:`~patternlang.engine.sampler.sgld.
chain_generator`), never on which process runs it or what runs beside it, so spreading groups over
processes changes the wall time and nothing else: merged in unit order, the results are bit-identical
to running the groups one after another in one process.

:func:`map_units` shares the work instead of splitting it up front: the calling process starts on the
units at once while ``workers - 1`` spawned helpers import torch; every process claims the next
unclaimed unit when it is free. Short jobs therefore finish in the calling process before a helper is
even ready (the helpers are then stopped; a spawn costs seconds), and long ones use every core.
:func:`cpu_workers` is the default process count on a CPU: one per core this process may run on.

Example::

    from patternlang.engine.sampler.pool import cpu_workers, map_units
    results = map_units(run_group, [[0, 1], [2, 3]], cpu_workers(2))   # run_group: a top-level function
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from typing import Any, TypeVar

U = TypeVar("U")
R = TypeVar("R")
_FREE = -1


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask; ``os.cpu_count()`` where unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cpu_workers(units: int, requested: int | None = None) -> int:
    """Processes for ``units`` independent units on a CPU: ``requested`` when given (>= 1), else one per
    usable core; never more than ``units``."""
    want = requested if requested is not None and requested >= 1 else usable_cores()
    return max(1, min(want, units))


def _claim(owner: Any, me: int) -> int | None:
    """Atomically take the first unclaimed unit for ``me``; ``None`` when none is left."""
    with owner.get_lock():
        for i in range(len(owner)):
            if owner[i] == _FREE:
                owner[i] = me
                return i
    return None


def _helper(fn: Callable[[Any], Any], units: Sequence[Any], owner: Any, results: Any, me: int,
            initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    import torch

    torch.set_num_threads(1)
    if initializer is not None:
        initializer(*initargs)
    while (i := _claim(owner, me)) is not None:
        try:
            results.put((i, True, fn(units[i])))
        except BaseException as exc:  # reported to the caller, which re-raises it
            results.put((i, False, repr(exc)))
            return


def map_units(fn: Callable[[U], R], units: Sequence[U], workers: int,
              on_done: Callable[[int, R], Any] | None = None, initializer: Callable[..., Any] | None = None,
              initargs: tuple[Any, ...] = ()) -> list[R]:
    """``[fn(u) for u in units]``, shared between this process and ``workers - 1`` spawned helpers.

    ``fn`` and the units must pickle (a module-level function; plain data). Results come back in unit
    order; ``on_done(i, result)`` is called in this process as unit ``i`` finishes (any order). A
    unit whose helper died is run here. With ``workers <= 1`` (or one unit) no helper is started.
    ``initializer(*initargs)`` runs first in each helper (e.g. the runtime's ``worker_init``: ignore
    Ctrl-C, exit with the parent). On any exception here (an interruption) the helpers are ended.
    """
    out: dict[int, R] = {}

    def finish(i: int, r: R) -> None:
        out[i] = r
        if on_done is not None:
            on_done(i, r)

    if workers <= 1 or len(units) <= 1:
        for i, u in enumerate(units):
            finish(i, fn(u))
        return [out[i] for i in range(len(units))]
    ctx = get_context("spawn")
    owner, results = ctx.Array("i", [_FREE] * len(units)), ctx.Queue()
    helpers = [ctx.Process(target=_helper, args=(fn, list(units), owner, results, w + 1, initializer, initargs),
                           daemon=True)
               for w in range(min(workers, len(units)) - 1)]
    for p in helpers:
        p.start()
    try:
        while (mine := _claim(owner, 0)) is not None:
            finish(mine, fn(units[mine]))
        _collect(fn, units, owner, results, helpers, out, finish)
    finally:
        for p in helpers:  # idle helpers may still be importing: stop them (they hold no work)
            if p.is_alive():
                p.terminate()
            p.join()
    return [out[i] for i in range(len(units))]


def _collect(fn: Callable[[Any], Any], units: Sequence[Any], owner: Any, results: Any, helpers: list[Any],
             out: dict[int, Any], finish: Callable[[int, Any], None]) -> None:
    """Wait for the units the helpers claimed; run here any whose helper died."""
    while len(out) < len(units):
        try:
            i, ok, r = results.get(timeout=1.0)
        except queue.Empty:
            crashed = {w + 1 for w, p in enumerate(helpers) if p.exitcode not in (None, 0)}
            for j in range(len(units)):  # a clean exit has flushed its results; a crash has not
                if j not in out and owner[j] in crashed:
                    finish(j, fn(units[j]))
            continue
        if not ok:
            raise RuntimeError(f"unit {i} failed in a helper process: {r}")
        if i not in out:
            finish(i, r)

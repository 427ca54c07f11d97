"""Run independent sampler units (chain groups) in several worker processes, results in unit order.

A chain group's numbers depend only on ``(seed, chain)`` (see :func:`~patternlang.engine.sampler.sgld.
chain_generator`), never on which process runs it or what runs beside it, so spreading groups over
processes changes the wall time and nothing else: merged in unit order, the results are bit-identical
to running the groups one after another in one process.

:func:`cpu_workers` is the default number of processes on a CPU: one per core this process may run
on (``os.sched_getaffinity``), at most one per unit. Each worker runs torch on one thread, so W
workers use W cores; with one core, or one unit, everything runs in the calling process.

Example::

    from patternlang.engine.sampler.pool import cpu_workers, map_units
    results = map_units(run_group, [[0, 1], [2, 3]], cpu_workers(2))   # run_group: a top-level function
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

U = TypeVar("U")
R = TypeVar("R")


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


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def map_units(fn: Callable[[U], R], units: Sequence[U], workers: int,
              on_done: Callable[[int, R], Any] | None = None) -> list[R]:
    """``[fn(u) for u in units]``, computed by ``workers`` spawned processes when ``workers > 1``.

    ``fn`` and the units must pickle (a module-level function; plain data). Results come back in unit
    order; ``on_done(i, result)`` is called in the calling process as unit ``i`` finishes (in order).
    With ``workers <= 1`` (or a single unit) the units run here, one after another.
    """
    out: list[R] = []
    if workers <= 1 or len(units) <= 1:
        for i, u in enumerate(units):
            out.append(fn(u))
            if on_done is not None:
                on_done(i, out[-1])
        return out
    with ProcessPoolExecutor(min(workers, len(units)), mp_context=get_context("spawn"),
                             initializer=_one_thread) as pool:
        for i, r in enumerate(pool.map(fn, units)):
            out.append(r)
            if on_done is not None:
                on_done(i, r)
    return out

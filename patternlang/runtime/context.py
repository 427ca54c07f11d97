"""The contract between the executor and the step runners: what a runner gets (:class:`StepContext`)
and how a runner registers for a step kind (:func:`runner`). Step modules import this module; the
executor imports the step modules (to register them) and this one, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from patternlang.plan.ir import Plan
from patternlang.runtime.distributed import Dist
from patternlang.runtime.progress import Progress
from patternlang.runtime.rundir import RunDir, StepDir


@dataclass
class StepContext:
    """What a step runner gets: its own step, directory, the outputs of finished steps, settings."""

    plan: Plan
    run: RunDir
    dir: StepDir
    digest: str
    device: torch.device
    resume: bool
    progress: Progress
    summaries: dict[str, dict]  # step id -> done.json summary of finished steps
    dirs: dict[str, StepDir]  # step id -> directory of finished steps
    extras: dict[str, Any] = field(default_factory=dict)
    dist: Dist = field(default_factory=Dist)  # this rank; Dist() = single process

    def input_dir(self, step_id: str) -> StepDir:
        return self.dirs[step_id]

    def input_summary(self, step_id: str) -> dict:
        return self.summaries[step_id]


Runner = Callable[[Any, StepContext], dict]
RUNNERS: dict[str, Runner] = {}
SHARDED: set[str] = set()  # kinds whose runner runs on every rank (and returns None off rank 0)


def runner(kind: str, sharded: bool = False) -> Callable[[Runner], Runner]:
    """Register the runner of a step kind. A ``sharded`` runner runs on every rank of a distributed
    run, takes its units with ``ctx.dist.mine(...)``, gathers to rank 0 and returns the summary there
    (``None`` on other ranks); other runners run on rank 0 alone while the rest wait."""

    def register(fn: Runner) -> Runner:
        RUNNERS[kind] = fn
        if sharded:
            SHARDED.add(kind)
        return fn

    return register

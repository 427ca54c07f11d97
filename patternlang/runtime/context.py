"""The contract between the executor and the step runners: what a runner gets (:class:`StepContext`).
Which runner runs which step kind is the table of :mod:`patternlang.runtime.kinds`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import Plan
from patternlang.runtime.distributed import Dist
from patternlang.runtime.options import RunOptions
from patternlang.runtime.progress import Progress
from patternlang.runtime.results_types import R, StepResult
from patternlang.runtime.rundir import RunDir, StepDir


@dataclass
class StepContext:
    """What a step runner gets: its own step, directory, the results of finished steps, and the
    run's options (``options``: device, precision, compile, chain grouping, workers)."""

    plan: Plan
    run: RunDir
    dir: StepDir
    digest: str
    device: torch.device
    resume: bool
    progress: Progress
    results: dict[str, StepResult]  # step id -> result (done.json) of finished steps
    dirs: dict[str, StepDir]  # step id -> directory of finished steps
    dist: Dist = field(default_factory=Dist)  # this rank; Dist() = single process
    options: RunOptions = field(default_factory=RunOptions)  # how the run executes

    def input_dir(self, step_id: str) -> StepDir:
        return self.dirs[step_id]

    def result(self, step_id: str, kind: type[R]) -> R:
        """The result of the finished step ``step_id``, as the model ``kind`` (e.g.
        ``ctx.result(step.solve, SolveResult)``); a step of another kind is a runtime error."""
        found = self.results[step_id]
        if not isinstance(found, kind):
            raise PatRuntimeError(self.dir.path.name, f"step '{step_id}' handed on a "
                                  f"{type(found).__name__}, not a {kind.__name__}",
                                  "recompile the spec: the plan wires steps of the wrong kinds")
        return found

"""The contract between the executor and the step runners: what a runner gets (:class:`StepContext`).
Which runner runs which step kind is the table of :mod:`patternlang.runtime.kinds`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import Plan, SampleStep
from patternlang.runtime.distributed import Dist
from patternlang.runtime.options import RunOptions
from patternlang.runtime.progress import Progress
from patternlang.runtime.results_types import R, StepResult
from patternlang.runtime.rundir import RunDir, StepDir


@dataclass
class StepContext:
    """What a step runner gets: its own step, directory, the results of finished steps, and the
    run's options (``options``: device, precision, compile, chain grouping, workers).

    ``plan`` is the *resolved* plan: every finished sample step in it is the step as it ran (the
    ε its ``step = auto`` scan chose, the draws ``draws = auto`` used; the executor writes them
    back once, :func:`patternlang.runtime.services.sampling.write_back`), so a runner reads ε,
    nβ and the draws of a sample step from ``ctx.plan`` alone (:meth:`nbeta`) and never from an
    echo in a result. ``compiled`` is the plan as compiled: its hashes key the run directory, and
    it keeps the user's own settings (``draws = auto(...)``) for a step that grows like its sample
    step did (the coupled estimator)."""

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
    compiled: Plan | None = None  # the plan as compiled (None: the same as ``plan``)

    @property
    def as_compiled(self) -> Plan:
        """The plan as compiled, before any sample step was written back."""
        return self.compiled if self.compiled is not None else self.plan

    def nbeta(self, step_id: str) -> float:
        """nβ of the sample step that ``step_id`` (a sample or susceptibility step) reads: the
        one source of nβ for every χ a runner scales (the compiler resolved ``nbeta = auto``)."""
        step = self.plan.step(step_id)
        if not isinstance(step, SampleStep):
            step = self.plan.step_as(getattr(step, "sample", ""), SampleStep)
        return float(step.sampler.nbeta)

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

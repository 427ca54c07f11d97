"""Execute a :class:`~patternlang.plan.ir.Plan` into a run directory.

Steps run in plan order (the plan lists inputs before their users). Each step kind has one runner
function ``run(step, ctx) -> summary`` registered in :data:`RUNNERS`; a runner writes its files into
``ctx.dir`` and returns a JSON-able summary, which becomes the step's ``done.json``. A step whose
``done.json`` exists under the same content hash is not run again: that is both the cache (change a
target, and train/sample are re-used) and the resume mechanism (a killed run continues from completed
steps; sample and verify steps also keep completed chain groups / arm-seed runs inside ``parts/``).

Failures inside a step become :class:`~patternlang.errors.PatRuntimeError` naming the step, the cause
and a remedy; nothing already written is removed.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from patternlang.errors import PatError, PatRuntimeError
from patternlang.plan.ir import Plan
from patternlang.runtime.progress import NullProgress, Progress
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

    def input_dir(self, step_id: str) -> StepDir:
        return self.dirs[step_id]

    def input_summary(self, step_id: str) -> dict:
        return self.summaries[step_id]


Runner = Callable[[Any, StepContext], dict]
RUNNERS: dict[str, Runner] = {}


def runner(kind: str) -> Callable[[Runner], Runner]:
    """Register the runner of a step kind."""

    def register(fn: Runner) -> Runner:
        RUNNERS[kind] = fn
        return fn

    return register


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is a usage error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PatRuntimeError("setup", "--device cuda was asked for but no CUDA device is visible",
                              "use --device cpu or --device auto")
    return torch.device(device)


def _load_runners() -> None:
    # Importing the step modules registers their runners.
    from patternlang.runtime import steps  # noqa: F401


def execute(plan: Plan, out: str | Path, *, resume: bool = False, device: str = "auto",
            progress: Progress | None = None, only: list[str] | None = None) -> dict[str, dict]:
    """Run ``plan`` into the run directory ``out``; return the summaries of all steps by id.

    Args:
        plan: the compiled plan.
        out: run directory (created if missing; completed steps already there are re-used).
        resume: also continue partially completed steps (chain groups, verification runs); without
            it, incomplete step directories are cleared and recomputed.
        device: ``auto``, ``cpu`` or ``cuda[:i]``.
        progress: where progress events go (default: nowhere).
        only: run only these step ids (and use cached outputs for their inputs).
    """
    _load_runners()
    run = RunDir(out)
    progress = progress or NullProgress()
    dev = resolve_device(device)
    hashes = plan.hashes()
    run.write_text("plan.json", plan.to_json())
    summaries: dict[str, dict] = {}
    dirs: dict[str, StepDir] = {}
    run.log("run_start", steps=[s.id for s in plan.steps], device=str(dev), resume=resume)
    for step in plan.steps:
        sdir = run.step(step.kind, step.id, hashes[step.id])
        if sdir.done:
            summaries[step.id], dirs[step.id] = sdir.summary(), sdir
            progress.info(f"{step.id}: cached ({sdir.path.name})")
            run.log("step_cached", step=step.id, hash=hashes[step.id])
            continue
        if only is not None and step.id not in only:
            continue
        if not resume:
            sdir.clear_partial()
            sdir.path.mkdir(parents=True, exist_ok=True)
        ctx = StepContext(plan, run, sdir, hashes[step.id], dev, resume, progress, summaries, dirs)
        summaries[step.id] = _run_step(step, ctx)
        dirs[step.id] = sdir
    run.log("run_end")
    return summaries


def _run_step(step: Any, ctx: StepContext) -> dict:
    fn = RUNNERS.get(step.kind)
    if fn is None:
        raise PatRuntimeError(step.id, f"no runner for step kind {step.kind!r}",
                              "this plan was made by a newer patternlang; upgrade")
    t0 = time.time()
    ctx.run.log("step_start", step=step.id, kind=step.kind, hash=ctx.digest)
    ctx.progress.info(f"{step.id}: running")
    try:
        summary = fn(step, ctx)
    except PatError as exc:
        ctx.run.log("step_failed", step=step.id, error=str(exc))
        raise
    except torch.cuda.OutOfMemoryError as exc:
        ctx.run.log("step_failed", step=step.id, error="out of memory")
        raise PatRuntimeError(step.id, f"out of GPU memory ({exc.__class__.__name__})",
                              "lower chains or batch, or run with --device cpu; completed "
                              "steps are kept, continue with --resume") from exc
    except MemoryError as exc:
        ctx.run.log("step_failed", step=step.id, error="out of memory")
        raise PatRuntimeError(step.id, "out of memory", "lower chains, batch or probe size; "
                              "completed steps are kept, continue with --resume") from exc
    except FileNotFoundError as exc:
        ctx.run.log("step_failed", step=step.id, error=str(exc))
        raise PatRuntimeError(step.id, f"file not found: {exc.filename or exc}",
                              "check the path in the spec (paths are relative to the spec file)"
                              ) from exc
    summary = dict(summary)
    summary.setdefault("seconds", round(time.time() - t0, 3))
    ctx.dir.mark_done(summary)
    ctx.run.log("step_end", step=step.id, seconds=summary["seconds"])
    return summary


def clear(out: str | Path) -> None:
    """Delete a run directory entirely (``patc run --fresh``)."""
    shutil.rmtree(out, ignore_errors=True)

"""Execute a :class:`~patternlang.plan.ir.Plan` into a run directory.

Steps run in plan order (the plan lists inputs before their users). Each step kind has one runner
function ``run(step, ctx) -> result`` in the table of step kinds (:data:`patternlang.runtime.kinds.KINDS`);
a runner writes its files into ``ctx.dir`` and returns its typed result
(:mod:`patternlang.runtime.results_types`), which becomes the step's ``done.json``. A step whose
``done.json`` exists under the same content hash is not run again: that is both the cache (change a
target, and train/sample are re-used) and the resume mechanism (a killed run continues from completed
steps; sample and verify steps also keep completed chain groups / arm-seed runs inside ``parts/``).

Completion markers are sealed with the content hashes of the step's files
(:mod:`patternlang.runtime.rundir`); a cached step whose files are missing or altered is said, moved
to ``steps/.damaged/`` and recomputed. Failures inside a step become
:class:`~patternlang.errors.PatRuntimeError` naming the step, the cause and a remedy (an exception
in the user's own code names the function; a file-system error says disk full / not writable);
nothing already written is removed.
"""

from __future__ import annotations

import errno
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from patternlang.errors import PatError, PatRuntimeError
from patternlang.plan.ir import Plan
from patternlang.runtime import distributed
from patternlang.runtime.context import StepContext
from patternlang.runtime.distributed import Dist
from patternlang.runtime.kinds import kind_of
from patternlang.runtime.options import RunOptions
from patternlang.runtime.progress import NullProgress, Progress
from patternlang.runtime.report import render
from patternlang.runtime.results_types import (ReportResult, StepResult, parse_result, read_result,
                                               result_json)
from patternlang.runtime.rundir import RunDir, StepDir
from patternlang.runtime.services.sampling import write_back


def resolve_device(device: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is a usage error.
    With a ``local_rank`` (distributed runs), ``auto``/``cuda`` mean GPU ``local_rank`` (modulo the
    visible GPUs), so the ranks of one node share its GPUs."""
    if device in ("auto", "cuda") and local_rank is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{local_rank % torch.cuda.device_count()}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PatRuntimeError("setup", "--device cuda was asked for but no CUDA device is visible",
                              "use --device cpu or --device auto")
    return torch.device(device)


def spec_dir_on_path(plan: Plan) -> None:
    """Let ``factory("mod:fn")`` import ``mod.py`` beside the spec, after installed packages and for
    the modules the plan's factories name only (:func:`~patternlang.models.factory.allow_spec_modules`):
    the spec's folder is never put on ``sys.path``, so a ``numpy.py`` there cannot shadow numpy."""
    from patternlang.models.factory import allow_spec_modules

    if plan.spec.startswith("<") or not plan.factories:
        return
    allow_spec_modules(Path(plan.spec).resolve().parent, plan.factories)


def execute(plan: Plan, out: str | Path, *, options: RunOptions | None = None,
            resume: bool = False, progress: Progress | None = None, only: list[str] | None = None,
            dist: Dist | None = None) -> dict[str, StepResult]:
    """Run ``plan`` into the run directory ``out``; return the results of all steps by id.

    Args:
        plan: the compiled plan.
        out: run directory (created if missing; completed steps already there are re-used).
        options: how to run (device, precision, compile, chain grouping, workers; default
            :class:`RunOptions`'s defaults). Written to ``RUN/options.json``, given to every step
            as ``ctx.options``; the ones that change numbers enter the plan (``plan.numeric_options``)
            and so the step hashes.
        resume: also continue partially completed steps (chain groups, verification runs); without
            it, incomplete step directories are cleared and recomputed.
        progress: where progress events go (default: nowhere).
        only: run only these step ids (and use cached outputs for their inputs).
        dist: this process's rank; default: from the launcher's environment (``RANK``,
            ``WORLD_SIZE``; see :mod:`patternlang.runtime.distributed`), a single process otherwise.
    """
    spec_dir_on_path(plan)
    options = options or RunOptions()
    plan = plan.model_copy(update={"numeric_options": options.numerics()})
    run = RunDir(out)
    progress = progress or NullProgress()
    device = options.device
    if dist is None:
        wanted = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                              ("cpu" if device == "auto" else device))
        dist = distributed.from_env(wanted.type)
    dev = resolve_device(device, dist.local_rank if dist.active else None)
    run.logging = dist.is_main
    hashes = plan.hashes()
    if dist.is_main:
        run.write_text("plan.json", plan.to_json())
        run.write_json("options.json", options.model_dump(mode="json"))
        forget_failure(run)
    results: dict[str, StepResult] = {}
    dirs: dict[str, StepDir] = {}
    resolved = plan  # the plan with each finished sample step written back as it ran
    run.log("run_start", steps=[s.id for s in plan.steps], device=str(dev), resume=resume,
            world=dist.world)
    for step in plan.steps:
        kind = kind_of(step)
        sdir = run.step(step.kind, step.id, hashes[step.id])
        sdir.say = _teller(run, progress, step.id)
        # the report (results.json, report.md, figures) is rebuilt every time (not ``cached``): it
        # costs about a second and then always reflects the step outputs that are on disk now
        usable = _usable(sdir) if kind.cached and dist.is_main else False
        cached = read_result(sdir) if dist.broadcast(usable) else None
        if cached is not None:
            results[step.id], dirs[step.id] = cached, sdir
            resolved = write_back(resolved, step, cached)
            progress.info(f"{step.id}: cached ({sdir.path.name})")
            run.log("step_cached", step=step.id, hash=hashes[step.id])
            continue
        if kind.cached and sdir.done and dist.is_main:
            run.log("step_stale", step=step.id, hash=hashes[step.id])  # older done.json: recompute
            progress.info(f"{step.id}: its done.json has an older format; recomputing")
            sdir.forget()
        if only is not None and step.id not in only:
            continue
        if not resume and dist.is_main:
            sdir.clear_partial()
            sdir.path.mkdir(parents=True, exist_ok=True)
        dist.barrier()
        ctx = StepContext(resolved, run, sdir, hashes[step.id], dev, resume, progress, results, dirs,
                          dist=dist, options=options, compiled=plan)
        try:
            results[step.id] = _run_step_on_ranks(step, ctx)
        except Exception as exc:
            if dist.is_main:
                record_failure(run, step.id, exc)
            raise
        dirs[step.id] = sdir
        resolved = write_back(resolved, step, results[step.id])
    run.log("run_end")
    dist.barrier()
    distributed.shutdown()
    return results


FAILED = "failed.json"
#: what the report step writes; after a failure they are rewritten (or removed), never left stale
REPORT_FILES = ("results.json", "report.md", "report.html")


def forget_failure(run: RunDir) -> None:
    """A new run starts: the previous run's failure no longer describes the directory."""
    (run.root / FAILED).unlink(missing_ok=True)


def record_failure(run: RunDir, step_id: str, exc: BaseException) -> None:
    """Write ``failed.json`` (the step and its error) and re-render the report from the steps on
    disk, so ``results.json`` and ``report.md`` say which step failed instead of showing the
    previous run's results; when even that fails, remove them rather than leave them stale."""
    try:
        run.write_json(FAILED, {"step": step_id, "error": str(exc)})
        render(run.root)
    except Exception:  # the original error is what the user needs to see
        for name in REPORT_FILES:
            (run.root / name).unlink(missing_ok=True)


def _teller(run: RunDir, progress: Progress, step_id: str):
    def say(message: str) -> None:
        progress.info(message)
        run.log("damaged", step=step_id, message=message)
    return say


def _usable(sdir: StepDir) -> bool:
    """Whether a completed step can be re-used: its sealed files are all there, unaltered. A
    damaged step is said, moved to ``steps/.damaged/`` and recomputed; it never blocks others."""
    if not sdir.done:
        return False
    why = sdir.damage()
    if why is None:
        return True
    dest = sdir.quarantine()
    sdir.say(f"{sdir.path.name}: {why}; moved it to {dest.relative_to(dest.parents[2])} and "
             "recomputing the step")
    sdir.path.mkdir(parents=True, exist_ok=True)
    return False


def file_error(step_id: str, exc: OSError) -> PatRuntimeError:
    """A file-system failure as a runtime error with its remedy (exit 1, never a traceback)."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return PatRuntimeError(step_id, f"the disk is full{where}: {exc.strerror}",
                               "free space, then continue with --resume: completed steps and "
                               "parts are kept")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PatRuntimeError(step_id, f"cannot write{where}: {exc.strerror}",
                               "give --out a directory you can write to")
    return PatRuntimeError(step_id, f"file system error{where}: {exc.strerror or exc}",
                           "check the path and the disk; completed steps are kept")


def _run_step_on_ranks(step: Any, ctx: StepContext) -> StepResult:
    """Run a step on this rank: every rank for sharded kinds, rank 0 alone otherwise; after a barrier
    every rank holds the result rank 0 wrote."""
    if not ctx.dist.active:
        return _run_step(step, ctx)
    result = None
    if kind_of(step).sharded or ctx.dist.is_main:
        result = _run_step(step, ctx)
    ctx.dist.barrier()
    return result if ctx.dist.is_main else parse_result(ctx.dir.summary())


def run_report(step: Any, ctx: StepContext) -> ReportResult:
    """The report step: ``results.json``, figures and ``report.md`` from the steps on disk."""
    path = render(ctx.run.root)
    return ReportResult(report=str(path.relative_to(ctx.run.root)))


def _run_step(step: Any, ctx: StepContext) -> StepResult:
    kind = kind_of(step)
    fn = kind.runner() if kind.run is not None else run_report
    t0 = time.time()
    ctx.run.log("step_start", step=step.id, kind=step.kind, hash=ctx.digest)
    ctx.progress.info(f"{step.id}: running")
    try:
        result = fn(step, ctx)
    except PatRuntimeError as exc:
        ctx.run.log("step_failed", step=step.id, error=str(exc))
        if exc.step in {s.id for s in ctx.plan.steps}:
            raise
        # raised below the step ("model", "load checkpoint"): say which step it stopped
        raise type(exc)(step.id, f"{exc.step}: {exc.cause}", exc.remedy, exc.info.details) from exc
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
        raise out_of_memory(step, f"out of memory ({exc or 'MemoryError'})") from exc
    except FileNotFoundError as exc:
        ctx.run.log("step_failed", step=step.id, error=str(exc))
        raise PatRuntimeError(step.id, f"file not found: {exc.filename or exc}",
                              "check the path in the spec (paths are relative to the spec file)"
                              ) from exc
    except OSError as exc:
        _log_quietly(ctx, step.id, str(exc))
        raise file_error(step.id, exc) from exc
    except Exception as exc:
        if allocation_failed(exc):  # torch's allocator: "DefaultCPUAllocator: can't allocate ..."
            ctx.run.log("step_failed", step=step.id, error="out of memory")
            raise out_of_memory(step, f"out of memory: {str(exc).splitlines()[0][:200]}") from exc
        where = user_frame(exc)
        if where is None:
            raise  # a bug in patternlang: exit 70 with the banner
        ctx.run.log("step_failed", step=step.id, error=f"{type(exc).__name__} in {where}")
        spec_at = getattr(exc, "pat_declared_at", None)
        where += f", asked for at {spec_at}" if spec_at else ""
        raise PatRuntimeError(step.id, f"your code raised {type(exc).__name__}: {exc} (in {where})",
                              "fix that function, or its arguments in the spec; `patc --debug "
                              "run ...` shows the traceback; completed steps are kept") from exc
    if not ctx.dist.is_main:
        return result  # other ranks of a sharded step: rank 0 writes the result
    if result.seconds is None:
        result = result.model_copy(update={"seconds": round(time.time() - t0, 3)})
    ctx.dir.mark_done(result_json(result))
    ctx.run.log("step_end", step=step.id, seconds=result.seconds)
    for warning in step_warnings(result):  # on the console as they happen, not only in the report
        ctx.progress.info(f"{step.id}: warning: {warning}")
    return result


def step_warnings(result: StepResult) -> list[str]:
    """Every warning a step's result carries (a solve's: each round's solution's and its own)."""
    out = list(getattr(result, "warnings", None) or [])
    for r in getattr(result, "rounds", None) or []:
        out += [w for w in r.solve.warnings if w not in out]
    return out


_ALLOCATOR_WORDS = ("can't allocate memory", "not enough memory", "out of memory",
                    "cannot allocate memory", "std::bad_alloc", "invalid size of the tensor",
                    "numel: integer multiplication overflow")


def allocation_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator's refusal (torch raises RuntimeError, numpy its own
    ``_ArrayMemoryError``, a MemoryError subclass), not a bug."""
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, ValueError)) and any(w in text for w in _ALLOCATOR_WORDS)


def _data_files(step: Any) -> list[str]:
    """The data files a step reads (``text_file``, ``token_file``, component paths)."""
    from patternlang.plan.ir import strings_in

    found = strings_in(step.model_dump(mode="json").get("components", []))
    return sorted(f for f in found if "/" in f and Path(f).suffix and Path(f).is_file())


def out_of_memory(step: Any, cause: str) -> PatRuntimeError:
    """An allocation failure as exit 1: what to lower, naming the step's data files (a large
    corpus is loaded whole), completed steps kept."""
    files = _data_files(step)
    data = f"; or a smaller data file ({', '.join(files)})" if files else ""
    return PatRuntimeError(step.id, cause, "lower the model's size, chains, batch or probe "
                           f"(`patc compile SPEC` shows each step's memory){data}; completed steps "
                           "are kept, continue with --resume")


def user_frame(exc: BaseException) -> str | None:
    """``function (file:line)`` of the innermost traceback frame in the user's code (a factory
    module, a model's forward): not patternlang, not the standard library, not an installed
    package. ``None`` when the exception never passed through user code."""
    import sysconfig
    import traceback

    import patternlang

    ours = str(Path(patternlang.__file__).resolve().parent)
    libs = {str(Path(p).resolve()) for k, p in sysconfig.get_paths().items()
            if k in ("stdlib", "platstdlib", "purelib", "platlib")}
    found = None
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename.startswith("<"):
            continue
        path = str(Path(fr.filename).resolve())
        if path.startswith(ours) or any(path.startswith(lib) for lib in libs):
            continue
        found = f"{fr.name} ({fr.filename}:{fr.lineno})"
    return found


def _log_quietly(ctx: StepContext, step_id: str, error: str) -> None:
    """Log a failure unless the log itself cannot be written (a full disk)."""
    try:
        ctx.run.log("step_failed", step=step_id, error=error)
    except OSError:
        pass


def clear(out: str | Path) -> None:
    """Delete a run directory entirely (``patc run --fresh``)."""
    shutil.rmtree(out, ignore_errors=True)

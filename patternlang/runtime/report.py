"""``results.json`` and ``report.md`` from a run directory's step results.

:func:`collect` gathers the steps' typed results (:mod:`patternlang.runtime.results_types`) into
the results document of ``docs/results.md`` (with the run's verdict,
:mod:`patternlang.runtime.run_verdict`, from the same typed results); :func:`render` draws the
figures and writes the Markdown report, each step's section by its kind's renderer
(:data:`patternlang.runtime.kinds.KINDS`) from the step's typed result (a
:class:`~patternlang.runtime.markdown.Section`). Both only read what the steps wrote, so ``patc report
DIR`` re-renders a finished (or partly finished) run.
"""

from __future__ import annotations

from pathlib import Path

from patternlang import __version__
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import Plan
from patternlang.runtime.kinds import KINDS
from patternlang.runtime.markdown import Section
from patternlang.runtime.results_types import SECTIONS, StepResult, read_result, result_json
from patternlang.runtime.run_verdict import RunVerdict, run_verdict, verdict_lines
from patternlang.runtime.rundir import RunDir, StepDir, read_json
from patternlang.runtime.schema import RESULTS_SCHEMA
from patternlang.runtime.training_types import Tracked, TrainRun


def load_results(run: RunDir, plan: Plan) -> tuple[dict[str, StepResult], dict[str, StepDir]]:
    """The typed results (``done.json``) and directories of the plan's completed steps."""
    hashes = plan.hashes()
    results, dirs = {}, {}
    for s in plan.steps:
        d = run.step(s.kind, s.id, hashes[s.id])
        found = read_result(d) if d.damage() is None else None  # damaged: incomplete, not data
        if found is not None:
            results[s.id], dirs[s.id] = found, d
    return results, dirs


def tracked_curves(plan: Plan, dirs: dict[str, StepDir]) -> dict[str, Tracked]:
    """Per completed train step that tracks observables, its :class:`Tracked` curves, read from
    each seed's ``curve.json`` (a :class:`TrainRun`)."""
    out: dict[str, Tracked] = {}
    for s in plan.steps:
        if s.kind != "train" or not s.track or s.id not in dirs:
            continue
        files = {str(seed): dirs[s.id].file(f"seed{seed}/curve.json") for seed in s.seeds}
        out[s.id] = Tracked.of({seed: TrainRun.model_validate(read_json(f)).curve
                                for seed, f in files.items() if f.exists()})
    return out


def collect(plan: Plan, results: dict[str, StepResult],
            tracked: dict[str, Tracked] | None = None, verdict: RunVerdict | None = None) -> dict:
    """The results document (schema: ``docs/results.md``): each step's result model as JSON, in
    the section of its kind, the observables tracked during training and the run's ``verdict``
    (:func:`~patternlang.runtime.run_verdict.run_verdict` of ``results``). The report step counts
    as complete: the document is its output."""
    out: dict = {"schema": RESULTS_SCHEMA, "patternlang": __version__, "spec": plan.spec,
                 "seed": plan.seed, "steps": {}, **{name: {} for name in SECTIONS.values()},
                 "tracked": {sid: t.model_dump(mode="json") for sid, t in (tracked or {}).items()}}
    hashes = plan.hashes()
    for s in plan.steps:
        found = results.get(s.id)
        out["steps"][s.id] = {"kind": s.kind, "hash": hashes[s.id],
                              "complete": found is not None or s.kind == "report",
                              "seconds": found.seconds if found is not None else None}
        key = KINDS[s.kind].key if s.kind in KINDS else None
        if found is not None and key is not None:
            # wall time lives in "steps" alone: the sections of two equal runs are equal
            out[key][s.id] = result_json(found, exclude={"seconds"})
    out["verdict"] = verdict.model_dump(mode="json") if verdict is not None else None
    return out


def _formats(plan: Plan) -> list[str]:
    """The report formats the spec's ``output`` block asks for (``results.json`` is always
    written: the API reads it); without ``md`` there is no report.md and no figures."""
    report = [s for s in plan.steps if s.kind == "report"]
    return list(getattr(report[0], "formats", ["md", "json"])) if report else ["md", "json"]


def _progress(plan: Plan, found: dict, failed: dict | None = None) -> str:
    """``all 6 steps complete.`` or ``4/6 steps complete; failed: solve.up (its error); not run:
    verify.up`` (the report step, being written, is not counted; ``failed``: the run's
    ``failed.json``)."""
    steps = [s.id for s in plan.steps if s.kind != "report"]
    missing = [sid for sid in steps if sid not in found]
    if not missing:
        return f"all {len(steps)} steps complete."
    head = f"{len(steps) - len(missing)}/{len(steps)} steps complete"
    if failed and failed.get("step") in missing:
        missing.remove(failed["step"])
        cause = str(failed.get("error", "")).splitlines()[0]
        head += f"; **failed: {failed['step']}** ({cause})"
    return head + (f"; not run: {', '.join(missing)}." if missing else ".")


def read_failure(run: RunDir) -> dict | None:
    """The run's ``failed.json`` (written when a step fails, removed when a run starts)."""
    path = run.root / "failed.json"
    try:
        return read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        return None


def render(run_dir: str | Path) -> Path:
    """Write ``results.json``, ``figures/`` and ``report.md`` for the run in ``run_dir``."""
    run = RunDir(run_dir)
    try:
        plan = Plan.from_json((run.root / "plan.json").read_text())
        plan.hashes()  # every input names a step of the plan
    except (OSError, ValueError, KeyError) as exc:
        raise PatRuntimeError("report", f"{run.root / 'plan.json'} cannot be read as a plan "
                              f"({type(exc).__name__})", "run `patc run SPEC --out DIR` again to "
                              "rewrite it; completed steps are re-used") from None
    found, dirs = load_results(run, plan)
    tracked = tracked_curves(plan, dirs)
    verdict = run_verdict(found, plan)
    doc = collect(plan, found, tracked, verdict)
    failed = read_failure(run)
    if failed:
        doc["failed"] = failed
    path = run.write_json("results.json", doc)
    if "md" not in _formats(plan):
        return path
    figdir = run.subdir("figures")
    lines = [f"# patternlang report: `{Path(plan.spec).name}`", "",
             f"patternlang {__version__}; plan seed {plan.seed}; {_progress(plan, found, failed)}",
             ""]
    if verdict is not None:
        lines += ["## Verdict", "", "```", *verdict_lines(verdict), "```", ""]
    for s in plan.steps:
        kind = KINDS.get(s.kind)
        if s.id not in found or kind is None or kind.section is None:
            continue
        lines += kind.section(Section(s.id, found[s.id], figdir, dirs[s.id], tracked.get(s.id)))
    return run.write_text("report.md", "\n".join(lines) + "\n")

"""``verify``: retrain under each arm's mixture over seeds; onset, realized vs predicted change.

Each (arm, seed) run (a :class:`~patternlang.runtime.steps.verify.jobs.VerifyJob`) is content-addressed (``RUN/runs/<hash>/`` with its own done marker: resumable,
and shared between verify steps, so a changed target re-uses the baseline arm and any arm whose
weights did not change) and runs in a worker process
(:func:`~patternlang.engine.sampler.pool.map_units`, a work-sharing pool whose helpers start with
:func:`~patternlang.runtime.workers.worker_init`: they end with their parent)
when ``RunOptions.workers`` (``patc run --workers``) > 1 (default: 2 on a CPU machine — small models run fastest with one
torch thread per process, and the second core takes the second process). In a distributed run the
runs are split over ranks instead (one process per rank, no pool unless ``workers`` asks
for one) and rank 0 gathers their results.

The result (:class:`VerifyResult`) holds, per arm, the mixture weights, every tracked observable over training for every
seed, the onset step of each onset observable (first evaluation at which it crosses its threshold;
``None`` = absent within the horizon) with the fraction of seeds whose value at the horizon
satisfies the condition (``final_fraction``: e.g. the share of seeds that learned a rule), and the
final values; and the calibration: realized change
at the horizon (patterned − baseline, mean over seeds) beside the solver's predicted change of the
posterior expectation, with their ratio and whether the signs agree.

``random(K)`` and ``regression(K)`` arms (``docs/validation.md``) are expanded by
:mod:`patternlang.runtime.steps.verify.validation`; the regression's proxy runs go first, through the same
content-addressed runs and workers. ``validation`` and ``verdict`` summarize every arm.
"""

from __future__ import annotations


import numpy as np

from patternlang.engine.solve.diagnostics import propagate_se
from patternlang.engine.validation import compare_onsets
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import VerifyStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.contract import check_model
from patternlang.runtime.results_types import (ArmResult, CalibrationRow, FinalValue, OnsetResult,
                                               OnsetRule, SolveResult, VerifyResult)
from patternlang.runtime.services.build import build_model
from patternlang.runtime.services.rows import linearize
from patternlang.runtime.services.solved_rows import SolvedRows
from patternlang.runtime.training_types import TrainRun
from patternlang.runtime.steps.verify.jobs import (arm_jobs, init_path, job_for, run_jobs,
                                                   tracked_observables)
from patternlang.runtime.steps.verify.regression_arm import proxy_design, regression_result
from patternlang.runtime.steps.verify.validation import (TargetReader, arm_names,
                                                         validation_summary, verdicts)

_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


def _regression(step: VerifyStep, ctx: StepContext, reader: TargetReader) -> dict | None:
    """Run the regression arm's proxy trainings (every rank its share), fit and solve on rank 0,
    and hand the record (with the arm's weights) to every rank."""
    mixtures, names, horizon = proxy_design(step, ctx)
    seed = step.seeds[0]  # one seed for every proxy: mixtures differ, noise is shared
    jobs = [job_for(step, ctx, f"proxy{i + 1}", seed, dict(zip(names, map(float, m))), horizon,
                     horizon, init_path(step, ctx, seed)) for i, m in enumerate(mixtures)]
    results = run_jobs(jobs, ctx, step, "regression proxy runs")
    record = None
    if results is not None:
        finals = [results[j.name].curve.values[-1] for j in jobs]
        record = regression_result(step, ctx, reader, mixtures, names, horizon, finals)
    return ctx.dist.broadcast(record)


def onset_step(steps: list[int], values: list[float], op: str, threshold: float) -> int | None:
    """First step at which ``value op threshold`` holds (None if never)."""
    for t, v in zip(steps, values):
        if v is not None and np.isfinite(v) and _OPS[op](v, threshold):
            return int(t)
    return None


def _arm_summary(runs: list[TrainRun], weights: dict, step: VerifyStep) -> ArmResult:
    steps = runs[0].curve.step
    curves = {c: [r.curve.series(c) for r in runs] for c in runs[0].curve.coordinates()}
    onset = {}
    for on in step.onset:
        name = on.observable.name
        per_seed = [onset_step(steps, curves[name][i], on.op, on.threshold)
                    for i in range(len(runs))] if name in curves else []
        present = [s for s in per_seed if s is not None]
        censored = [s if s is not None else step.steps for s in per_seed]
        at_end = [bool(_OPS[on.op](curves[name][i][-1], on.threshold)) for i in range(len(runs))
                  if name in curves and curves[name][i] and np.isfinite(curves[name][i][-1])]
        onset[name] = OnsetResult(
            per_seed=per_seed, mean=float(np.mean(present)) if present else None,
            absent=len(per_seed) - len(present),
            censored_mean=float(np.mean(censored)) if censored else None, final_holds=at_end,
            final_fraction=float(np.mean(at_end)) if at_end else None)
    final = {c: FinalValue(mean=float(np.mean([s[-1] for s in v])), sd=float(np.std([s[-1] for s in v])))
             for c, v in curves.items()}
    return ArmResult(weights=weights, seeds=list(step.seeds), curves=curves, onset=onset,
                     final=final)


def _calibration(step: VerifyStep, ctx: StepContext, rows: SolvedRows,
                 arms: dict[str, ArmResult]) -> list[CalibrationRow]:
    """Realized (patterned − baseline at the horizon) vs predicted posterior change from the
    solve's baseline to its final weights, per tracked observable linear in the solve's rows
    (``rows``, as the solve built them)."""
    if "baseline" not in arms or "patterned" not in arms:
        return []
    sol = ctx.result(step.solve, SolveResult)
    dmu = np.array([sol.predicted[n].change for n in rows.names], float)
    dh = np.array([sol.final_weights[c] - sol.baseline[c] for c in rows.components])
    out = []
    for spec in tracked_observables(step):
        try:
            mat = linearize(spec.expr, rows, step.id)
        except PatRuntimeError:
            continue
        if mat.shape[0] != 1 or spec.name not in arms["patterned"].final:
            continue
        predicted = float(mat[0] @ dmu)
        se = float(propagate_se(mat, rows.response_se, dh)[0])
        realized = arms["patterned"].final[spec.name].mean - arms["baseline"].final[spec.name].mean
        resolved = abs(predicted) > se  # a prediction within its SE has no sign to agree with
        out.append(CalibrationRow(observable=spec.name, predicted=predicted, realized=realized,
                                  ratio=realized / predicted if predicted else None, se=se,
                                  sign_agrees=bool(np.sign(realized) == np.sign(predicted))
                                  if resolved else None))
    return out


def _onset_of(arms: dict[str, ArmResult], arm: str, name: str) -> OnsetResult | None:
    return arms[arm].onset.get(name) if arm in arms else None


def onset_sentence(o: OnsetResult, base: OnsetResult) -> str:
    """``o`` vs ``base`` onset in words: a mean with absent seeds (counted at the horizon) is a
    lower bound, written ``>=``, and two lower bounds are never ordered."""
    rel = (o.censored_mean - base.censored_mean) / base.censored_mean
    how = compare_onsets(o.censored_mean, bool(o.absent), base.censored_mean, bool(base.absent))
    ge = lambda x: ">=" if x.absent else ""  # noqa: E731
    size = "" if how in ("not ordered", "same") else f"{abs(rel):.0%} "
    return (f"{ge(o)}{o.censored_mean:.0f} vs {ge(base)}{base.censored_mean:.0f} steps "
            f"({size}{how}; absent in {o.absent}/{len(o.per_seed)} vs "
            f"{base.absent}/{len(base.per_seed)} seeds)")


def _headline(step: VerifyStep, arms: dict[str, ArmResult]) -> dict[str, str]:
    out = {}
    for on in step.onset:
        name = on.observable.name
        for arm in arms:
            if arm.startswith("random"):
                continue  # summarized by the validation (percentile), not one line each
            found = _onset_of(arms, arm, name)
            holds = found.final_holds if found else []
            if holds:
                out[f"{name} {on.op} {on.threshold:g} at the horizon, {arm}"] = (
                    f"{sum(holds)}/{len(holds)} seeds ({sum(holds) / len(holds):.0%})")
        base = _onset_of(arms, "baseline", name)
        for arm in ("patterned", "opposite", "control", "orthogonal", "regression"):
            o = _onset_of(arms, arm, name)
            if base and o and base.censored_mean and o.censored_mean is not None:
                out[f"onset of {name}, {arm} vs baseline"] = onset_sentence(o, base)
    return out


def run_verify(step: VerifyStep, ctx: StepContext) -> VerifyResult | None:
    if step.model is not None:  # a transfer verify's model must offer what the observables read
        check_model(build_model(step.model, ctx), ctx.plan, step.id)
    reader = TargetReader(step, ctx)  # the solve's rows and targets, read once
    regression = _regression(step, ctx, reader) if step.regression is not None else None
    jobs = arm_jobs(step, ctx, {"regression": regression["weights"]} if regression else {})
    results = run_jobs(jobs, ctx, step)
    if results is None:
        return None  # not rank 0
    arms = {}
    for arm in arm_names(step):
        runs = [results[j.name] for j in jobs if j.arm == arm]
        arms[arm] = _arm_summary(runs, next(j.weights for j in jobs if j.arm == arm), step)
    first = results[jobs[0].name].curve.step
    plotted = [on.observable.name for on in step.onset] + [
        o.name for o in step.observables if o.name in arms[step.arms[0]].curves]
    return VerifyResult(steps=first, arms=arms, plotted=list(dict.fromkeys(plotted))[:4],
                        onset_specs=[OnsetRule(observable=on.observable.name, op=on.op,
                                               threshold=on.threshold) for on in step.onset],
                        calibration=_calibration(step, ctx, reader.rows, arms),
                        headline=_headline(step, arms),
                        validation=validation_summary(step, ctx, reader, arms, first, regression),
                        verdict=verdicts(step, ctx, reader, arms, first))

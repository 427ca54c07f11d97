"""``verify``: retrain under each arm's mixture over seeds; onset, realized vs predicted change.

Each (arm, seed) run is content-addressed (``RUN/runs/<hash>/`` with its own done marker: resumable,
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

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patternlang.engine.directions import equality_rows
from patternlang.engine.sampler.pool import map_units
from patternlang.engine.solve.diagnostics import propagate_se
from patternlang.engine.validation import compare_onsets
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import (ComponentSpec, ModelSpec, ObsExpr, ObservableSpec, TrainStep,
                                 VerifyStep)
from patternlang.runtime.context import StepContext
from patternlang.runtime.contract import check_model
from patternlang.runtime.results_types import (ArmResult, CalibrationRow, FinalValue, OnsetResult,
                                               OnsetRule, SolveResult, VerifyResult)
from patternlang.runtime.rundir import atomic_write_json, damage, read_json, seal
from patternlang.runtime.services.build import build_components, build_model, checkpoint_paths
from patternlang.runtime.services.mixtures import arm_weights, atom_arm, reweight_pools, sample_weights
from patternlang.runtime.services.rows import linearize
from patternlang.runtime.services.solved_rows import SolvedRows
from patternlang.runtime.services.training import train_one
from patternlang.runtime.training_types import TrainRun
from patternlang.runtime.steps.verify.regression_arm import proxy_design, regression_result
from patternlang.runtime.steps.verify.validation import (TargetReader, arm_names, arm_seed,
                                                         validation_summary, verdicts)
from patternlang.runtime.workers import worker_init

_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


@dataclass(frozen=True)
class VerifyJob:
    """One (arm, seed) verification run: everything :func:`_job` needs to train it, in a worker
    process or here. ``run_dir`` is its content-addressed directory ``RUN/runs/<key>/``
    (:func:`_run_key`): checkpoints, ``run.json`` (the :class:`TrainRun`) and the done marker."""

    name: str  # ``<arm>-s<seed>``: the key of its result
    arm: str
    seed: int
    weights: dict[str, float]  # the arm's mixture
    train: TrainStep  # the recipe (a transfer verify: with the verify's model)
    steps: int
    every: int
    track: list[ObservableSpec]
    init_path: Path | None
    run_dir: Path
    device: str
    plan_seed: int
    pools: dict | None = None  # per-example weights of pools (a per-sample solution's arm)
    probes: list[ComponentSpec] | None = None  # components only observables read

    @property
    def result_file(self) -> Path:
        return self.run_dir / "run.json"


def _job(job: VerifyJob) -> TrainRun:
    """One (arm, seed) training run; a top-level function so worker processes can run it."""
    import torch

    torch.set_num_threads(1)
    components = reweight_pools(build_components(job.train.components + (job.probes or [])),
                                job.pools)
    run = train_one(job.train, job.seed, job.weights, components, job.run_dir,
                    device=job.device, plan_seed=job.plan_seed, steps=job.steps,
                    init_path=job.init_path, track=job.track, every=job.every, checkpoints=[])
    atomic_write_json(job.result_file, run.model_dump())
    return run


def _posterior_only(expr: ObsExpr) -> bool:
    """Whether an observable measures the posterior around a center (``llc()``, ``loss_increase``):
    at a single point during training it is identically 0, so verification does not track it."""
    from patternlang import registry

    if expr.op == "prim":
        prim = registry.get("observable", expr.name or "")
        return bool(prim and prim.meta.get("posterior_only"))
    return any(_posterior_only(o) for o in expr.operands)


def _tracked(step: VerifyStep) -> list[ObservableSpec]:
    out: dict[str, ObservableSpec] = {}
    for o in list(step.observables) + [on.observable for on in step.onset]:
        if not _posterior_only(o.expr):
            out.setdefault(o.name, o)
    return list(out.values())


def _run_key(ctx: StepContext, train_id: str, weights: dict, seed: int, steps: int, every: int,
             track: list[ObservableSpec], init_path, pools: dict | None = None,
             model: ModelSpec | None = None) -> str:
    """Content hash of one verification run: everything its numbers depend on. Runs live under
    ``RUN/runs/<key>/`` and are shared between verify steps, so a changed target re-uses the
    baseline arm (and every arm whose weights the new solution leaves unchanged)."""
    body = {"train": ctx.plan.hashes()[train_id], "plan_seed": ctx.plan.seed, "seed": seed,
            "weights": {k: round(float(v), 12) for k, v in sorted(weights.items())},
            "steps": steps, "every": every, "device": ctx.device.type,
            "track": [o.model_dump(mode="json") for o in track],
            "init": None if init_path is None else str(init_path).replace(str(ctx.run.root), "")}
    if model is not None:  # a transfer verify: another model than the train step's
        body["model"] = model.model_dump(mode="json", exclude={"name"})
    if pools:  # per-example weights of pools (absent for every component-level run)
        body["pools"] = {k: hashlib.sha256(np.round(np.asarray(q, float), 15).tobytes()).hexdigest()
                         for k, q in sorted(pools.items())}
    text = json.dumps(body, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _job_for(step: VerifyStep, ctx: StepContext, arm: str, seed: int, weights: dict,
             steps: int, every: int, init_path, pools: dict | None = None) -> VerifyJob:
    key = _run_key(ctx, step.train, weights, seed, steps, every, _tracked(step), init_path, pools,
                   step.model)
    train = ctx.plan.step_as(step.train, TrainStep)
    if step.model is not None:  # transfer: the same recipe, another model
        train = train.model_copy(update={"model": step.model})
    return VerifyJob(name=f"{arm}-s{seed}", arm=arm, seed=seed, weights=weights, train=train,
                     steps=steps, every=every, track=_tracked(step), init_path=init_path,
                     run_dir=ctx.run.subdir("runs", key), device=str(ctx.device),
                     plan_seed=ctx.plan.seed, pools=pools, probes=step.probes)


def _init_path(step: VerifyStep, ctx: StepContext, seed: int):
    init = dict(checkpoint_paths(step.start_at, ctx)) if step.start == "checkpoint" else {}
    return init.get(seed, next(iter(init.values()), None)) if init else None


def _jobs(step: VerifyStep, ctx: StepContext, given: dict[str, dict]) -> list[VerifyJob]:
    """The (arm, seed) runs; ``given``: weights of arms chosen elsewhere (the regression arm)."""
    sol = ctx.result(step.solve, SolveResult)
    h0, h1 = sol.baseline, sol.final_weights
    held = equality_rows(getattr(ctx.plan.step(step.solve), "constraints", []))
    atoms = _atom_arms(ctx, step.solve) if sol.sample_weights else None
    jobs = []
    for arm in arm_names(step):
        seed_of_arm = arm_seed(step, ctx.plan.seed, arm)
        if atoms and arm not in given:
            weights, pools = atoms(arm, seed_of_arm)
        else:
            weights, pools = given.get(arm) or arm_weights(arm, h0, h1, seed_of_arm, held), None
        jobs += [_job_for(step, ctx, arm, seed, weights, step.steps, step.every,
                          _init_path(step, ctx, seed), pools) for seed in step.seeds]
    return jobs


def _atom_arms(ctx: StepContext, solve_id: str):
    """``arm, seed -> (component weights, per-example weights of each pool or None)`` for a
    per-sample solution (:func:`~patternlang.runtime.steps.mixtures.atom_arm`). The baseline draws
    its pools uniformly, exactly as a component-level baseline run (and shares its runs)."""
    saved = sample_weights(ctx, solve_id)
    assert saved is not None  # called for a per-sample solve only
    comp = saved.component_of
    names = list(dict.fromkeys(comp))
    pools = [k for k in names if k in saved.pools]

    def arm(name: str, seed: int):
        p = atom_arm(name, saved.p0, saved.p, seed, np.isin(comp, pools))
        weights = {k: float(p[comp == k].sum()) for k in names}
        if name == "baseline":
            return weights, None
        return weights, {k: (p[comp == k] / max(p[comp == k].sum(), 1e-300)).tolist() for k in pools}

    return arm


def _regression(step: VerifyStep, ctx: StepContext, reader: TargetReader) -> dict | None:
    """Run the regression arm's proxy trainings (every rank its share), fit and solve on rank 0,
    and hand the record (with the arm's weights) to every rank."""
    mixtures, names, horizon = proxy_design(step, ctx)
    seed = step.seeds[0]  # one seed for every proxy: mixtures differ, noise is shared
    jobs = [_job_for(step, ctx, f"proxy{i + 1}", seed, dict(zip(names, map(float, m))), horizon,
                     horizon, _init_path(step, ctx, seed)) for i, m in enumerate(mixtures)]
    results = _run_jobs(jobs, ctx, step, "regression proxy runs")
    record = None
    if results is not None:
        finals = [results[j.name].curve.values[-1] for j in jobs]
        record = regression_result(step, ctx, reader, mixtures, names, horizon, finals)
    return ctx.dist.broadcast(record)


def _done(job: VerifyJob, ctx: StepContext) -> bool:
    """Whether the run is complete and intact (a damaged one is discarded, told, and re-run)."""
    d = job.run_dir
    if not (d / "done.json").exists():
        return False
    why = damage(d)
    if why is None:
        return True
    ctx.dir.say(f"verification run {job.name} ({d.name}) is damaged ({why}); re-running it")
    (d / "done.json").unlink()
    return False


def _mark_done(job: VerifyJob) -> None:
    seal(job.run_dir, {"arm": job.arm, "seed": job.seed})


def _run_jobs(jobs: list[VerifyJob], ctx: StepContext, step: VerifyStep,
              what: str = "arms x seeds") -> dict[str, TrainRun] | None:
    """Run this rank's unfinished (arm, seed) jobs; on rank 0 return every job's run, read back
    from its ``run.json`` (a finished run of an earlier verify reads the same way)."""
    mine = ctx.dist.mine(jobs)
    todo = [j for j in mine if not _done(j, ctx)]
    bar = ctx.progress.task(f"{step.id}: {what}", total=len(mine), unit="run")
    bar.advance(len(mine) - len(todo))
    default = 2 if ctx.device.type == "cpu" and not ctx.dist.active else 1
    workers = ctx.options.workers or default
    # work sharing: this process starts at once, helpers join when ready (see engine.sampler.pool)

    def on_done(i: int, _: object) -> None:
        _mark_done(todo[i])
        bar.advance()

    map_units(_job, todo, workers, on_done=on_done, initializer=worker_init, initargs=(os.getpid(),))
    bar.close()
    return ctx.dist.gather_dict({j.name: TrainRun.model_validate(read_json(j.result_file))
                                 for j in mine})


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
    for spec in _tracked(step):
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
    jobs = _jobs(step, ctx, {"regression": regression["weights"]} if regression else {})
    results = _run_jobs(jobs, ctx, step)
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

"""The verify step's training runs: one :class:`VerifyJob` per (arm, seed), content-addressed
(``RUN/runs/<hash>/``, sealed when done, so a re-run, a changed target or another verify step reuses
every run whose inputs did not change) and shared by worker processes (:func:`run_jobs`).
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
from patternlang.plan.ir import (ComponentSpec, ModelSpec, ObsExpr, ObservableSpec, TrainStep,
                                 VerifyStep)
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import (SolveResult)
from patternlang.runtime.rundir import atomic_write_json, damage, read_json, seal
from patternlang.runtime.services.build import build_components, checkpoint_paths
from patternlang.runtime.services.mixtures import arm_weights, atom_arm, reweight_pools, sample_weights
from patternlang.runtime.services.training import train_one
from patternlang.runtime.training_types import TrainRun
from patternlang.runtime.steps.verify.validation import (arm_names, arm_seed)
from patternlang.runtime.workers import worker_init


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


def tracked_observables(step: VerifyStep) -> list[ObservableSpec]:
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


def job_for(step: VerifyStep, ctx: StepContext, arm: str, seed: int, weights: dict,
             steps: int, every: int, init_path, pools: dict | None = None) -> VerifyJob:
    key = _run_key(ctx, step.train, weights, seed, steps, every, tracked_observables(step), init_path, pools,
                   step.model)
    train = ctx.plan.step_as(step.train, TrainStep)
    if step.model is not None:  # transfer: the same recipe, another model
        train = train.model_copy(update={"model": step.model})
    return VerifyJob(name=f"{arm}-s{seed}", arm=arm, seed=seed, weights=weights, train=train,
                     steps=steps, every=every, track=tracked_observables(step), init_path=init_path,
                     run_dir=ctx.run.subdir("runs", key), device=str(ctx.device),
                     plan_seed=ctx.plan.seed, pools=pools, probes=step.probes)


def init_path(step: VerifyStep, ctx: StepContext, seed: int):
    init = dict(checkpoint_paths(step.start_at, ctx)) if step.start == "checkpoint" else {}
    return init.get(seed, next(iter(init.values()), None)) if init else None


def arm_jobs(step: VerifyStep, ctx: StepContext, given: dict[str, dict]) -> list[VerifyJob]:
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
        jobs += [job_for(step, ctx, arm, seed, weights, step.steps, step.every,
                          init_path(step, ctx, seed), pools) for seed in step.seeds]
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


def run_jobs(jobs: list[VerifyJob], ctx: StepContext, step: VerifyStep,
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

"""The coupled estimator at run time: paired samplings of a sample step's posterior, per chain.

For each center of the sample step, each chain c and each estimated component k, the localized
posterior is sampled at h₊ = (1 − δ)h + δ·e_k and h₋ = (1 + δ)h − δ·e_k (at h itself where h₋
leaves the simplex: a forward difference) with common random numbers
(:mod:`patternlang.engine.coupled` says why and how the errors are computed):

* the same SGLD noise and minibatch generators: chain c's streams derive from
  (``seed``, center, c) whatever the mixture;
* the same minibatch *sequences*: drawn from one fixed design mixture
  (:func:`~patternlang.runtime.services.sampling.mixture_batches` with ``design``), each carrying the loss
  weight h_k / count_k of its run's mixture, so the paired minibatch losses differ only through
  the weights;
* the same probe sequences, drawn per chain (:func:`~patternlang.runtime.services.sampling.probe_seed` with
  the chain), so the chains are independent replicates of the whole estimate, probe draw included.

Every (center, component, side, chain) run is a resumable part (``parts/coupled-...``): an
interrupted step continues at the next unfinished run on ``--resume``. The chains are shared by
worker processes, one per usable core, as the sample step's chain groups are (a chain's numbers do
not depend on where it runs). The sampler's ``seed`` reaches every run, so changing it re-draws
chains and probes alike: a replicate in one line.

When every component of positive weight is estimated, the heaviest one's column follows from the
others (Σ_k h_k χ_k = 0, :func:`~patternlang.engine.coupled.derived_column`) and is not sampled:
2(K − 1) runs per chain instead of 2K.

Which components: those named in ``coupled(c, ...)``, else every component a downstream solve can
move (:func:`~patternlang.engine.solve.resolved.free_components`), else all of them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patternlang.errors import DivergenceError, PatRuntimeError
from patternlang.plan.ir import Plan, SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.progress import NullProgress
from patternlang.runtime.results_types import SampleResult
from patternlang.runtime.rundir import atomic_save_npz
from patternlang.runtime.services.build import build_components, derive_seed, select_checkpoints
from patternlang.runtime.services.sampling import probe_seed, sample_chains, sample_workers
from patternlang.runtime.workers import worker_init


@dataclass(frozen=True)
class CoupledRun:
    """What to estimate: the step (ε and draws as sampled), δ, components, chains and draws."""

    sample: SampleStep
    delta: float
    components: list[str]
    chains: int
    draws: int
    label: str = "coupled"
    first_center: bool = False  # only the first center (the finite-difference check)

    def step(self) -> SampleStep:
        """The sample step with this run's chains and draws (no ``draws = auto``)."""
        s = self.sample.sampler
        return self.sample.model_copy(update={"sampler": s.model_copy(
            update={"chains": self.chains, "draws": self.draws, "draws_auto": None})})


def _sgld_seed(step: SampleStep, ctx: StepContext, center: int) -> int:
    """The root of every paired run's SGLD streams at the center trained with seed ``center``."""
    return derive_seed("coupled", ctx.plan.seed, step.sampler.seed, center)


def movable_components(plan: Plan, susceptibility: str, sample: SampleStep) -> list[str]:
    """The components any solve reading ``susceptibility`` may move (all when none reads it)."""
    from patternlang.engine.solve.resolved import free_components

    comps = list(sample.mixture.weights)
    solves = [s for s in plan.steps if s.kind == "solve" and susceptibility in s.susceptibilities]
    if not solves:
        return comps
    free = np.zeros(len(comps), bool)
    for s in solves:
        h0 = np.array([float(s.mixture.weights.get(c, 0.0)) for c in comps])
        free |= free_components(comps, h0, list(s.constraints))
    return [c for c, f in zip(comps, free) if f]


def design_mixture(weights: dict[str, float], components: list[str], batch: int) -> dict[str, float]:
    """The fixed mixture every paired run draws its minibatch sequences from: the base weights,
    with every component that a run weights (base > 0, or estimated) at least 1/batch, so that
    each of them is in every minibatch."""
    floor = (1.0 + 1e-9) / batch  # a hair above 1/batch: floor(h·batch) >= 1 despite rounding
    used = {k for k, v in weights.items() if v > 0} | set(components)
    if len(used) * floor > 1.0:
        raise PatRuntimeError("coupled", f"a minibatch of {batch} cannot hold each of the "
                              f"{len(used)} components the paired runs weight",
                              f"a sampler batch of at least {len(used)}")
    # Components under the floor are raised to it; the others share what is left in proportion
    # to their weights (repeated: sharing can push another one under the floor).
    floored: set[str] = set()
    while True:
        rest = {k: float(weights[k]) for k in weights if k in used and k not in floored}
        total, share = sum(rest.values()), 1.0 - floor * len(floored)
        out = {k: floor if k in floored else rest[k] / total * share if k in rest else 0.0
               for k in weights}
        low = {k for k in rest if out[k] < floor}
        if not low:
            return out
        floored |= low


def sides(weights: dict[str, float], component: str, delta: float) -> tuple[dict, dict, bool]:
    """(h₊, h₋ or h, central?) of the paired difference toward ``component``."""
    from patternlang.engine.finite_diff import shifted_weights

    up = shifted_weights(weights, component, delta)
    try:
        return up, shifted_weights(weights, component, -delta), True
    except PatRuntimeError:
        return up, dict(weights), False


def run_coupled(run: CoupledRun, ctx: StepContext, reuse: bool = False):
    """The :class:`~patternlang.engine.coupled.CoupledChi` of ``run`` averaged over the sample
    step's centers, and the warnings (dropped chains). ``reuse``: sealed parts are re-used even
    without ``--resume`` (a round of ``draws = auto`` re-reads the chains of the rounds before)."""
    from patternlang.engine.coupled import coupled_chi, derived_column

    step = run.sample
    components = build_components(step.components)
    weights = dict(step.mixture.weights)
    total = float(sum(weights.values()))
    weights = {k: v / total for k, v in weights.items()}
    design = design_mixture(weights, run.components, step.sampler.batch)
    moved = run.step()
    obs_names = list(ctx.result(step.id, SampleResult).observables)  # the observer's coordinates
    centers = select_checkpoints(step.at, ctx, components, weights, step.model)
    centers = centers[:1] if run.first_center else centers
    derived = _derivable(run.components, weights)
    sampled = [k for k in run.components if k != derived]
    per_center, warnings = [], []
    for seed, path, _ in centers:
        sgld_seed = _sgld_seed(step, ctx, seed)
        runs = [(f"{run.label}-seed{seed}-{k}-{side}", w) for k in sampled
                for side, w in zip(("plus", "minus"), sides(weights, k, run.delta)[:2])]
        obs, dropped = sample_units(moved, ctx, path, design, sgld_seed, runs, run.chains,
                                    f"{run.label}: paired sampling at seed{seed}", reuse)
        warnings += [f"{run.label}: chain {c} at seed{seed} diverged in a paired run and was "
                     "dropped (a smaller step or a larger gamma keeps it)" for c in dropped]
        series = {k: ([obs[c][f"{run.label}-seed{seed}-{k}-plus"] for c in sorted(obs)],
                      [obs[c][f"{run.label}-seed{seed}-{k}-minus"] for c in sorted(obs)])
                  for k in sampled}
        cols = [_column(k, series[k], weights, run, step.sampler.nbeta) for k in sampled]
        if derived is not None:
            cols.append(derived_column(cols, weights, derived))
        per_center.append(coupled_chi(cols, obs_names, list(weights), run.delta, step.sampler.nbeta))
    return _average(per_center), warnings


def measure_step(run: CoupledRun, ctx: StepContext, h0: dict[str, float],
                 h1: dict[str, float]) -> np.ndarray:
    """Per chain, ⟨φ⟩ at ``h1`` minus ⟨φ⟩ at ``h0`` from a coupled pair at the first center:
    [C, M] (chains that diverged are left out)."""
    step = run.sample
    union = {k: max(h0.get(k, 0.0), h1.get(k, 0.0)) for k in h0}
    design = design_mixture(union, [], step.sampler.batch)
    seed, path, _ = select_checkpoints(step.at, ctx, build_components(step.components), h0,
                                       step.model)[0]
    base, solved = f"{run.label}-seed{seed}-base", f"{run.label}-seed{seed}-solved"
    obs, _ = sample_units(run.step(), ctx, path, design, _sgld_seed(step, ctx, seed),
                          [(base, h0), (solved, h1)],
                          run.chains, f"{run.label}: paired sampling")
    return np.stack([obs[c][solved].mean(0) - obs[c][base].mean(0) for c in sorted(obs)])


def sample_units(step: SampleStep, ctx: StepContext, center: Path, design: dict, sgld_seed: int,
                 runs: list[tuple[str, dict]], chains: int, label: str, reuse: bool = False
                 ) -> tuple[dict[int, dict[str, np.ndarray]], list[int]]:
    """Every chain's runs (``runs``: part-name prefix and mixture; one part per run and chain,
    ``<prefix>-c<chain>``), the chains shared by worker processes (one per usable core, as the
    sample step's chain groups). Returns {chain: {prefix: observations [draws, M]}} for the chains
    whose every run finished, and the chains that diverged. Sealed parts are re-used on
    ``--resume`` (or with ``reuse``); a worker writes a run's ``obs.npz``, this process seals it."""
    from patternlang.engine.sampler.pool import map_units

    def name(prefix: str, c: int) -> str:
        return f"{prefix}-c{c}"

    done = {name(p, c) for p, _ in runs for c in range(chains)  # sealed: re-used, or sealed below
            if (ctx.resume or reuse) and ctx.dir.part_done(name(p, c))}
    quiet = dataclasses.replace(ctx, progress=NullProgress(), run=None, dir=None, results={}, dirs={})
    raw = {str(ctx.dir.part(name(p, c))): name(p, c) for p, _ in runs for c in range(chains)}
    jobs = [{"ctx": quiet, "step": step, "center": center, "design": design, "seed": sgld_seed,
             "chain": c, "runs": [(str(ctx.dir.part(name(p, c))), w) for p, w in runs
                                  if name(p, c) not in done]}
            for c in range(chains)]
    jobs = [j for j in jobs if j["runs"]]
    bar = ctx.progress.task(label, total=len(jobs), unit="chain")

    def sealed(i: int, finished: list[str]) -> None:
        for part in finished:
            ctx.dir.mark_part_done(raw[part])
            done.add(raw[part])
        bar.advance()

    map_units(_chain_job, jobs, sample_workers(ctx, len(jobs)), on_done=sealed,
              initializer=worker_init, initargs=(os.getpid(),))
    bar.close()
    out, dropped = {}, []
    for c in range(chains):
        parts = {p: ctx.dir.part(name(p, c)) / "obs.npz" for p, _ in runs}
        if not all(name(p, c) in done for p, _ in runs):
            dropped.append(c)
            continue
        out[c] = {p: np.load(f)["x"] for p, f in parts.items()}
    if not out:
        raise PatRuntimeError(ctx.dir.path.name, f"{label}: every chain diverged",
                              "use a smaller sampler step or a larger gamma")
    return out, dropped


def _chain_job(job: dict) -> list[str]:
    """One chain's runs, in this process or a worker (top-level, so it pickles): each run's
    observations to its part directory's ``obs.npz``; stops at a diverged run. Returns the part
    directories it wrote."""
    import torch

    torch.set_num_threads(1)
    step, ctx, c = job["step"], job["ctx"], job["chain"]
    components = build_components(step.components)
    probe = probe_seed(step, ctx, c)
    written = []
    for part, weights in job["runs"]:
        try:
            res, _ = sample_chains(step, ctx, Path(job["center"]), components, seed=job["seed"],
                                   weights=weights, chain_ids=[c], per_sample=False,
                                   design=job["design"], probe=probe, keep_observations=True)
        except DivergenceError:
            break
        atomic_save_npz(Path(part) / "obs.npz", x=np.asarray(res.observations["x"][0], float))
        written.append(part)
    return written


def _derivable(components: list[str], weights: dict[str, float]) -> str | None:
    """The component whose column follows from the others (Σ_k h_k χ_k = 0) when every component
    of positive weight is estimated: the heaviest (its division by h_k amplifies least); else
    None."""
    positive = [k for k, v in weights.items() if v > 0]
    if len(positive) < 2 or not set(positive) <= set(components):
        return None
    return max(positive, key=lambda k: weights[k])


def _column(k: str, pair: tuple[list, list], weights: dict, run: CoupledRun, nbeta: float):
    from patternlang.engine.coupled import PairedSeries, column_estimate

    _, _, central = sides(weights, k, run.delta)
    scale = (2 if central else 1) * run.delta * nbeta
    return column_estimate(PairedSeries(k, pair[0], pair[1], scale, central))


def _average(chis: list):
    """The mean over centers (one center: itself); per-chain replicates stacked over centers."""
    if len(chis) == 1:
        return chis[0]
    from dataclasses import replace

    n = len(chis)
    mean = lambda a: np.mean([getattr(c, a) for c in chis], axis=0)  # noqa: E731
    quad = lambda a: np.sqrt(np.sum([getattr(c, a) ** 2 for c in chis], axis=0)) / n  # noqa: E731
    return replace(chis[0], chi=mean("chi"), se=quad("se"), se_between=quad("se_between"),
                   se_within=quad("se_within"), drift_z=mean("drift_z"),
                   per_chain=np.concatenate([c.per_chain for c in chis]), meta={"centers": n})


__all__ = ["CoupledRun", "movable_components", "design_mixture", "sides", "run_coupled",
           "measure_step"]

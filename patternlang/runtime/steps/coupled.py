"""The coupled estimator at run time: paired samplings of a sample step's posterior, per chain.

For each center of the sample step, each chain c and each estimated component k, the localized
posterior is sampled at h₊ = (1 − δ)h + δ·e_k and h₋ = (1 + δ)h − δ·e_k (at h itself where h₋
leaves the simplex: a forward difference) with common random numbers
(:mod:`patternlang.engine.coupled` says why and how the errors are computed):

* the same SGLD noise and minibatch generators: chain c's streams derive from
  (``seed``, center, c) whatever the mixture;
* the same minibatch *sequences*: drawn from one fixed design mixture
  (:func:`~patternlang.runtime.sampling.mixture_batches` with ``design``), each carrying the loss
  weight h_k / count_k of its run's mixture, so the paired minibatch losses differ only through
  the weights;
* the same probe sequences, drawn per chain (:func:`~patternlang.runtime.sampling.probe_seed` with
  the chain), so the chains are independent replicates of the whole estimate, probe draw included.

Every (center, chain, component, side) run is a resumable part (``parts/coupled-...``): an
interrupted step continues at the next unfinished run. The sampler's ``seed`` reaches every run,
so changing it re-draws chains and probes alike: a replicate in one line.

Which components: those named in ``coupled(c, ...)``, else every component a downstream solve can
move (:func:`~patternlang.engine.solve.resolved.free_components`), else all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patternlang.errors import DivergenceError, PatRuntimeError
from patternlang.plan.ir import Plan, SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.rundir import atomic_save_npz
from patternlang.runtime.sampling import probe_seed, sample_chains
from patternlang.runtime.steps.common import build_components, derive_seed, select_checkpoints


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
    floor = 1.0 / batch
    used = {k for k, v in weights.items() if v > 0} | set(components)
    raw = {k: max(float(weights.get(k, 0.0)), floor) if k in used else 0.0 for k in weights}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


def sides(weights: dict[str, float], component: str, delta: float) -> tuple[dict, dict, bool]:
    """(h₊, h₋ or h, central?) of the paired difference toward ``component``."""
    from patternlang.engine.finite_diff import shifted_weights

    up = shifted_weights(weights, component, delta)
    try:
        return up, shifted_weights(weights, component, -delta), True
    except PatRuntimeError:
        return up, dict(weights), False


def run_coupled(run: CoupledRun, ctx: StepContext):
    """The :class:`~patternlang.engine.coupled.CoupledChi` of ``run`` averaged over the sample
    step's centers, and the warnings (dropped chains)."""
    from patternlang.engine.coupled import coupled_chi

    step = run.sample
    components = build_components(step.components)
    weights = dict(step.mixture.weights)
    total = float(sum(weights.values()))
    weights = {k: v / total for k, v in weights.items()}
    design = design_mixture(weights, run.components, step.sampler.batch)
    moved = step.model_copy(update={"sampler": step.sampler.model_copy(
        update={"chains": run.chains, "draws": run.draws, "draws_auto": None})})
    centers = select_checkpoints(step.at, ctx, components, weights, step.model)
    centers = centers[:1] if run.first_center else centers
    per_center, warnings = [], []
    bar = ctx.progress.task(f"{run.label}: paired sampling", total=len(centers) * run.chains
                            * len(run.components) * 2, unit="run")
    for seed, path, _ in centers:
        obs_names = _names(moved, ctx, path, components, weights)
        series: dict[str, tuple[list, list]] = {k: ([], []) for k in run.components}
        for c in range(run.chains):
            got = _chain(moved, ctx, path, components, weights, design, run, seed, c, bar)
            if got is None:
                warnings.append(f"{run.label}: chain {c} at seed{seed} diverged in a paired run "
                                "and was dropped (a smaller step or a larger gamma keeps it)")
                continue
            for k in run.components:
                series[k][0].append(got[(k, "plus")])
                series[k][1].append(got[(k, "minus")])
        if not series[run.components[0]][0]:
            raise PatRuntimeError(ctx.dir.path.name, "every chain of the coupled estimator diverged",
                                  "use a smaller sampler step or a larger gamma")
        cols = [_column(k, series[k], weights, run, step.sampler.nbeta) for k in run.components]
        per_center.append(coupled_chi(cols, obs_names, list(weights), run.delta, step.sampler.nbeta))
    bar.close()
    return _average(per_center), warnings


def measure_step(run: CoupledRun, ctx: StepContext, h0: dict[str, float],
                 h1: dict[str, float]) -> np.ndarray:
    """Per chain, ⟨φ⟩ at ``h1`` minus ⟨φ⟩ at ``h0`` from a coupled pair at the first center:
    [C, M] (chains that diverged are left out)."""
    step = run.sample
    components = build_components(step.components)
    union = {k: max(h0.get(k, 0.0), h1.get(k, 0.0)) for k in h0}
    design = design_mixture(union, [], step.sampler.batch)
    moved = step.model_copy(update={"sampler": step.sampler.model_copy(
        update={"chains": run.chains, "draws": run.draws, "draws_auto": None})})
    seed, path, _ = select_checkpoints(step.at, ctx, components, h0, step.model)[0]
    sgld_seed = derive_seed("coupled", ctx.plan.seed, step.sampler.seed, seed)
    bar = ctx.progress.task(f"{run.label}: paired sampling", total=2 * run.chains, unit="run")
    out = []
    for c in range(run.chains):
        means = []
        for side, w in (("base", h0), ("solved", h1)):
            name = f"{run.label}-seed{seed}-{side}-c{c}"
            x = _observed(moved, ctx, path, components, w, design, sgld_seed, c, name)
            bar.advance()
            if x is None:
                break
            means.append(x.mean(0))
        if len(means) == 2:
            out.append(means[1] - means[0])
    bar.close()
    if not out:
        raise PatRuntimeError(ctx.dir.path.name, "every chain of the posterior check diverged",
                              "use a smaller sampler step or a larger gamma")
    return np.stack(out)


def _observed(step: SampleStep, ctx: StepContext, center: Path, components: dict, weights: dict,
              design: dict, sgld_seed: int, chain: int, name: str) -> np.ndarray | None:
    """Chain ``chain``'s observations [draws, M] at ``weights`` (a part, re-used when sealed), or
    None when it diverged."""
    if not (ctx.resume and ctx.dir.part_done(name)):
        try:
            res, _ = sample_chains(step, ctx, center, components, seed=sgld_seed, weights=weights,
                                   chain_ids=[chain], per_sample=False, design=design,
                                   probe=probe_seed(step, ctx, chain), keep_observations=True)
        except DivergenceError:
            return None
        atomic_save_npz(ctx.dir.part(name) / "obs.npz", x=np.asarray(res.observations["x"][0], float))
        ctx.dir.mark_part_done(name)
    with np.load(ctx.dir.part(name) / "obs.npz") as z:
        return z["x"]


def _column(k: str, pair: tuple[list, list], weights: dict, run: CoupledRun, nbeta: float):
    from patternlang.engine.coupled import PairedSeries, column_estimate

    _, _, central = sides(weights, k, run.delta)
    scale = (2 if central else 1) * run.delta * nbeta
    return column_estimate(PairedSeries(k, pair[0], pair[1], scale, central))


def _chain(step: SampleStep, ctx: StepContext, center: Path, components: dict, weights: dict,
           design: dict, run: CoupledRun, seed: int, chain: int, bar) -> dict | None:
    """Chain ``chain``'s paired runs for every component ({(k, side): [draws, M]}), or None when
    one of them diverged. Each run is a part, re-used when sealed."""
    sgld_seed = derive_seed("coupled", ctx.plan.seed, step.sampler.seed, seed)
    out: dict = {}
    for k in run.components:
        up, down, _ = sides(weights, k, run.delta)
        for side, w in (("plus", up), ("minus", down)):
            x = _observed(step, ctx, center, components, w, design, sgld_seed, chain,
                          f"{run.label}-seed{seed}-{k}-{side}-c{chain}")
            bar.advance()
            if x is None:
                return None
            out[(k, side)] = x
    return out


def _names(step: SampleStep, ctx: StepContext, center: Path, components: dict, weights: dict):
    """The observer's coordinate names (``ih[l1h0]``) — one discovery pass at the center."""
    from patternlang.runtime.sampling import step_observer
    from patternlang.runtime.steps.common import build_model, load_weights

    model = load_weights(build_model(step.model, ctx), center)
    return list(step_observer(step, ctx, model, components, weights, per_sample=False).obs_names)


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


def apply_coupled(result, step, sample: SampleStep, ctx: StepContext) -> None:
    """Replace the estimated columns of a covariance :class:`ChiResult` by the coupled estimate of
    ``step.estimator`` (the covariance χ kept in ``result.coupled``), with its halves, z and
    principal directions; the dropped-chain warnings join ``result.warnings``."""
    from patternlang.engine.chi import principal_of_matrix, standardize_chi
    from patternlang.runtime.results_types import CoupledRecord, HalfChi
    from patternlang.runtime.steps.susceptibility import _principal

    spec = step.estimator
    comps = list(spec.components) or movable_components(ctx.plan, step.id, sample)
    run = CoupledRun(sample, spec.delta, comps, spec.chains or sample.sampler.chains,
                     spec.draws or sample.sampler.draws)
    cc, warnings = run_coupled(run, ctx)
    names = list(result.components)
    if list(cc.obs_names) != list(result.observables):
        raise PatRuntimeError(step.id, "the coupled runs observed other coordinates than the sample "
                              "step", "this is a bug; please report it")
    k = len(names)
    est = np.array(cc.estimated[:k], bool)[None, :]
    cov, cov_se = np.array(result.chi, float), np.array(result.chi_se, float)
    chi, se = np.where(est, cc.chi[:, :k], cov), np.where(est, cc.se[:, :k], cov_se)
    halves = []
    for i in (0, 1):
        hc, hs = cc.half(i)
        base = result.halves[i] if result.halves else None
        halves.append(HalfChi(
            chi=np.where(est, hc[:, :k], np.array(base.chi) if base else cov).tolist(),
            chi_se=np.where(est, hs[:, :k], np.array(base.chi_se) if base else cov_se).tolist()))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, chi / se, np.nan)
    X = standardize_chi(chi, np.array(result.sd_obs, float), np.array(result.sd_comp, float)) \
        if step.standardize else chi
    result.principal = _principal(principal_of_matrix(X, list(result.observables), names,
                                                      step.standardize))
    result.coupled = CoupledRecord(
        delta=run.delta, components=comps, chains=run.chains, draws=run.draws,
        central=list(cc.central[:k]), se_between=_nan(cc.se_between[:, :k]),
        se_within=_nan(cc.se_within[:, :k]), drift_z=_nan(cc.drift_z[:, :k]),
        chi_covariance=cov.tolist(), chi_covariance_se=cov_se.tolist())
    result.estimator = "coupled"
    result.chi, result.chi_se, result.chi_z = chi.tolist(), se.tolist(), _nan(z)
    result.halves = halves if run.chains >= 4 else None
    result.warnings = list(result.warnings) + warnings


def _nan(a: np.ndarray) -> list:
    return [[float(v) if np.isfinite(v) else None for v in row] for row in np.asarray(a, float)]


__all__ = ["CoupledRun", "movable_components", "design_mixture", "sides", "run_coupled",
           "apply_coupled", "measure_step"]

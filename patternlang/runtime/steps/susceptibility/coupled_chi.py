"""The susceptibility step's coupled estimate (``estimator = coupled(...)``): :func:`apply_coupled`
puts the coupled columns of χ into the step's covariance :class:`ChiResult` (keeping the covariance
estimate beside them), and under the sampler's ``draws = auto`` grows the estimate by chains until
the targeted rows are resolved. The paired runs themselves are the service
:mod:`patternlang.runtime.services.coupled` (the solve's posterior check runs them too).
"""

from __future__ import annotations


import numpy as np

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import CoupledRecord, HalfChi
from patternlang.runtime.sample_types import CoupledAuto, CoupledRound
from patternlang.runtime.services.chi import principal_record
from patternlang.runtime.services.coupled import CoupledRun, movable_components, run_coupled
from patternlang.runtime.services.target_rows import target_rows


def apply_coupled(result, step, sample: SampleStep, ctx: StepContext) -> None:
    """Replace the estimated columns of a covariance :class:`ChiResult` by the coupled estimate of
    ``step.estimator`` (the covariance χ kept in ``result.coupled``), with its halves, z and
    principal directions; the dropped-chain warnings join ``result.warnings``.

    Under the sampler's ``draws = auto(z, max, chunk)`` (and no ``chains`` of its own) the coupled
    estimator grows by *chains* instead of draws — each chain is an independent replicate, so
    adding chains is how its SE shrinks: rounds of the sampler's ``chains`` chains of ``chunk``
    draws (or ``coupled(draws=...)``) until every targeted row's movable-step |z| >= z, at most
    ``chains · ⌈max / draws⌉`` chains (the budget ``max`` draws per chain would spend)."""
    spec = step.estimator
    comps = list(spec.components) or movable_components(ctx.plan, step.id, sample)
    planned = ctx.as_compiled.step_as(step.sample, SampleStep)  # its own draws = auto(...)
    auto = planned.sampler.draws_auto if not spec.chains else None
    base = spec.chains or sample.sampler.chains
    draws = spec.draws or (auto.chunk if auto is not None else sample.sampler.draws)
    most = base * -(-planned.sampler.draws // draws) if auto is not None else base
    chains = base
    rounds: list[CoupledRound] = []
    while True:
        run = CoupledRun(sample, spec.delta, comps, chains, draws)
        cc, warnings = run_coupled(run, ctx, reuse=auto is not None)
        merged = _merged(result, cc, step, run, comps)
        if auto is None:
            break
        best = _best_rows(planned, merged, ctx)
        rounds.append(CoupledRound(chains=chains, best_abs_z=best))
        ctx.progress.info(f"{step.id}: coupled, draws = auto: {chains} chains, best |z| "
                          + ", ".join(f"{k} {'none' if v is None else f'{v:.2f}'}" for k, v in best.items()))
        if all(v is not None and v >= auto.z for v in best.values()) or chains >= most:
            break
        chains = min(chains + base, most)
    if rounds:
        merged.coupled.auto = CoupledAuto(z=auto.z, max_chains=most, rounds=rounds)
        last = rounds[-1].best_abs_z
        missing = [k for k, v in last.items() if v is None or v < auto.z]
        warnings += [f"coupled estimator, draws = auto: '{k}' is not resolved with {chains} chains "
                     f"(movable-step |z| = {last[k]}); a larger max allows more "
                     "chains" for k in missing]
    for name in ("chi", "chi_se", "chi_z", "principal", "coupled", "estimator", "halves"):
        setattr(result, name, getattr(merged, name))
    result.warnings = list(result.warnings) + warnings


def _best_rows(planned: SampleStep, chi, ctx: StepContext) -> dict[str, float | None]:
    return {r.label: r.best_abs_z for r in target_rows(planned, chi, ctx.plan)}


def _merged(result, cc, step, run: CoupledRun, comps: list[str]):
    """A copy of the covariance ``result`` with the coupled columns of ``cc`` in place."""
    from patternlang.engine.chi import principal_of_matrix, standardize_chi

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
    record = CoupledRecord(
        delta=run.delta, components=comps, chains=len(cc.per_chain), draws=run.draws,
        central=list(cc.central[:k]), se_between=_nan(cc.se_between[:, :k]),
        se_within=_nan(cc.se_within[:, :k]), drift_z=_nan(cc.drift_z[:, :k]),
        chi_covariance=cov.tolist(), chi_covariance_se=cov_se.tolist(),
        per_chain=[_nan(c) for c in np.where(est[None], cc.per_chain[:, :, :k], np.nan)])
    return result.model_copy(update={
        "principal": principal_record(principal_of_matrix(X, list(result.observables), names,
                                                          step.standardize)),
        "coupled": record, "estimator": "coupled", "chi": chi.tolist(), "chi_se": se.tolist(),
        "chi_z": _nan(z), "halves": halves if len(cc.per_chain) >= 4 else None})


def _nan(a: np.ndarray) -> list:
    return [[float(v) if np.isfinite(v) else None for v in row] for row in np.asarray(a, float)]

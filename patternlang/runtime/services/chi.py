"""χ from co-moments, shared by the steps that estimate it: :func:`combine` (χ at one or more
centers averaged into a :class:`ChiResult`, with principal directions), :func:`split_pools` (the
mixture's columns apart from the per-sample pool columns), :func:`save_pools`
(``per_sample.npz``), :func:`principal_record` and :func:`fd_contradictions` (finite-difference
rows that contradict a resolved χ entry). Used by the susceptibility step, the solve's rounds, the
coupled estimator and the χ rows of the sample step's targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ChiResult, Mode, PoolChi, PrincipalResult
from patternlang.runtime.rundir import atomic_save_npz

if TYPE_CHECKING:
    from patternlang.engine.chi import Chi, Principal


def _average(chis: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean χ over centers, its standard error, and the mean posterior observable values."""
    chi = np.mean([c.chi for c in chis], axis=0)
    se = np.sqrt(np.sum([np.nan_to_num(c.se) ** 2 for c in chis], axis=0)) / len(chis)
    if len(chis) > 2:  # the spread between centers is also uncertainty about the rule's chi
        se = np.fmax(se, np.std([c.chi for c in chis], axis=0, ddof=1) / np.sqrt(len(chis)))
    mu = np.mean([c.mean_obs for c in chis], axis=0)
    return chi, se, mu


def combine(chis: list[Chi], sample: SampleStep, nbeta: float,
            standardize: bool = True) -> tuple[ChiResult, Chi, Principal]:
    """(result, merged :class:`Chi`, principal directions) of χ estimated at one or more centers."""
    from patternlang.engine.chi import Chi, principal_directions

    chi, se, mu = _average(chis)
    trends = [c.trend for c in chis if c.trend is not None]
    detrended = chi + np.mean(trends, axis=0) if len(trends) == len(chis) else None
    first = chis[0]
    merged = Chi(chi, se, first.se_batch, first.se_chain, first.obs_names, first.comp_names, mu,
                 first.sd_obs, first.sd_comp, first.chains, first.draws,
                 {"centers": len(chis)}, _mean_explicit(chis)) if len(chis) > 1 else first
    principal = principal_directions(merged, standardize=standardize)
    spec_of = {o.name: o for o in sample.observables}
    explicit = merged.explicit if merged.explicit is not None and np.any(merged.explicit) else None
    result = ChiResult(
        nbeta=nbeta, observables=list(merged.obs_names),
        observable_of=[_owner(n, spec_of) for n in merged.obs_names],
        components=list(merged.comp_names),
        observable_exprs={n: o.expr.model_dump(mode="json") for n, o in spec_of.items()},
        chi=chi.tolist(), chi_se=se.tolist(), chi_z=merged.z.tolist(), chi_ess=merged.ess.tolist(),
        mu=mu.tolist(), principal=principal_record(principal),
        centers=len(chis), draws=int(first.draws), chains=int(first.chains),
        chi_explicit=None if explicit is None else explicit.tolist(),  # the part from dφ/dε itself
        sd_obs=np.asarray(merged.sd_obs).tolist(), sd_comp=np.asarray(merged.sd_comp).tolist(),
        standardize=standardize, chi_detrended=None if detrended is None else detrended.tolist())
    return result, merged, principal


def split_pools(chis: list, sample: SampleStep) -> tuple[list, list | None]:
    """(χ over the mixture's components, χ over every pool example or None): the per-sample
    columns of whole pools go to their own file, not the result."""
    if not sample.pools:
        return chis, None
    k = len(sample.mixture.weights)
    return [c.columns(slice(0, k)) for c in chis], [c.columns(slice(k, None)) for c in chis]


def _mean_explicit(chis: list) -> np.ndarray | None:
    parts = [c.explicit for c in chis]
    return None if any(p is None for p in parts) else np.mean(parts, axis=0)


def _owner(coord: str, spec_of: dict) -> str:
    """The declared observable a coordinate belongs to (``ih[l1h0]`` -> ``ih``)."""
    if coord in spec_of:
        return coord
    base = coord.split("[", 1)[0]
    return base if base in spec_of else coord


def principal_record(p: Principal) -> PrincipalResult:
    """Principal directions: spectrum, and each mode's named loadings."""
    modes = []
    for r in range(len(p.singular_values)):
        structure, data = p.loadings(r)
        modes.append(Mode(singular_value=float(p.singular_values[r]),
                          explained=float(p.explained[r]), observables=structure, components=data))
    return PrincipalResult(standardized=p.standardized, singular_values=p.singular_values.tolist(),
                           variance_explained=p.explained.tolist(), modes=modes)


def save_pools(pooled: list, sample: SampleStep, ctx: StepContext) -> PoolChi:
    """Write the per-sample χ of every pool example (averaged over centers) to ``per_sample.npz``:
    ``chi``/``se`` [observables, examples], ``names`` (``pool[i]``), ``sd`` of ``ℓ_i − L``."""
    chi, se, _ = _average(pooled)
    names = list(pooled[0].comp_names)
    atomic_save_npz(ctx.dir.file("per_sample.npz"), chi=chi, se=se, names=np.array(names, dtype=str),
                    sd=np.asarray(pooled[0].sd_comp))
    sizes = {k: sum(1 for n in names if n.startswith(k + "[")) for k in sample.pools}
    return PoolChi(file="per_sample.npz", pools=sizes)


def fd_contradictions(rows: list[dict], z_min: float = 3.0) -> list[str]:
    """Warnings for finite-difference rows that contradict a resolved χ entry (|χ/SE| >= z_min):
    the opposite sign, or a ratio FD/χ outside [0.5, 2]."""
    out = []
    for r in rows:
        c, s, f = r["chi"], r["chi_se"], r["fd"]
        if not (s and f is not None and abs(c / s) >= z_min):
            continue
        ratio = f / c
        if ratio < 0 or not 0.5 <= ratio <= 2:
            what = "opposite sign" if ratio < 0 else f"ratio FD/chi = {ratio:.2g} outside [0.5, 2]"
            out.append(f"finite difference contradicts chi[{r['observable']}, {r['component']}] "
                       f"(chi = {c:.3g}, z = {c / s:.1f}; FD = {f:.3g}): {what}. Remedy: a smaller "
                       f"check eps, more draws, or step = auto (the covariance chi and the FD "
                       f"disagree when the sampler's step biases the posterior)")
    return out

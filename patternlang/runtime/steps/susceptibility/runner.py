"""``susceptibility``: χ = −Cov(φ, L_k − L) with standard errors, and principal directions.

With one center, χ comes from the sample step's co-moments pooled over chains. With several centers
(per-solution LLCs over representative checkpoints of one rule), χ is estimated at each center and
averaged: pooling draws across centers would add the spread *between* solutions to the covariance.

With ``estimator = coupled(...)`` the columns of the components the patternings can move are
replaced by the coupled estimate (paired differences with common random numbers,
:mod:`patternlang.runtime.services.coupled`); the covariance estimate stays beside it
(``coupled.chi_covariance``). Either way the result carries χ from each half of the chains
(``halves``: the solve's split-half reproducibility) and, for the covariance estimator, χ with each
chain's linear trend removed (``chi_detrended``: the drift check).

Outputs: ``chi.npz`` + ``chi.json`` (names, values, errors of the covariance estimate),
``principal.json``, and with ``check = finite_difference(...)`` ``finite_difference.json`` (χ beside
its paired finite difference, see :mod:`patternlang.runtime.steps.susceptibility.fd_check`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from patternlang.plan.ir import SampleStep, SusceptibilityStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ChiResult, FiniteDiffRow, HalfChi, SampleResult
from patternlang.runtime.rundir import atomic_write_json
from patternlang.runtime.services.chi import combine, fd_contradictions, save_pools, split_pools
from patternlang.runtime.steps.susceptibility.coupled_chi import apply_coupled
from patternlang.runtime.steps.susceptibility.component import run_component_susceptibility
from patternlang.runtime.steps.susceptibility.fd_check import finite_difference_rows

if TYPE_CHECKING:
    from patternlang.engine.moments import Comoments


def run_susceptibility(step: SusceptibilityStep, ctx: StepContext) -> ChiResult:
    from patternlang.engine.chi import estimate_chi
    from patternlang.engine.moments import Comoments

    if step.parts:  # component susceptibilities (issue 24)
        return run_component_susceptibility(step, ctx)
    sample = ctx.plan.step_as(step.sample, SampleStep)  # as it ran (step / draws = auto)
    sdir, sampled = ctx.input_dir(step.sample), ctx.result(step.sample, SampleResult)
    nbeta = ctx.nbeta(step.sample)
    moments = [Comoments.from_state(dict(np.load(sdir.file(f)))) for f in sampled.moments]
    chis, pooled = split_pools([estimate_chi(m) for m in moments], sample)
    result, merged, _ = combine(chis, sample, nbeta, step.standardize)
    if pooled is not None:
        result.per_sample = save_pools(pooled, sample, ctx)
    result.halves = _covariance_halves(moments, sample, nbeta)
    merged.save(ctx.dir.file("chi.npz"), ctx.dir.file("chi.json"))
    if step.check is not None:
        first = chis[0]  # the check re-samples at the first center: compare with χ there
        rows = finite_difference_rows(step.check, sample, ctx, np.asarray(first.chi),
                                      np.asarray(first.se), list(first.obs_names),
                                      list(first.comp_names))
        result.finite_difference = [FiniteDiffRow(**r) for r in rows]
        atomic_write_json(ctx.dir.file("finite_difference.json"), rows)
        result.warnings = fd_contradictions(rows)
    if step.estimator is not None:
        apply_coupled(result, step, sample, ctx)
    atomic_write_json(ctx.dir.file("principal.json"), result.principal.model_dump(mode="json"))
    return result


def _covariance_halves(moments: list[Comoments], sample: SampleStep, nbeta: float) -> list[HalfChi] | None:
    """χ and SE from the even and from the odd chains of every center (None with < 4 chains)."""
    from patternlang.engine.chi import estimate_chi

    if min(m.chains for m in moments) < 4:
        return None
    out = []
    for parity in (0, 1):
        picked = [m.select(np.arange(m.chains) % 2 == parity) for m in moments]
        chis, _ = split_pools([estimate_chi(m) for m in picked], sample)
        half, _, _ = combine(chis, sample, nbeta)
        out.append(HalfChi(chi=half.chi, chi_se=half.chi_se))
    return out



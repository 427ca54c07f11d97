"""How far a solve's weights can be trusted before any retraining: split halves, drift and a
posterior check of the solved step.

* **Reproducibility** (:func:`split_half`): the susceptibility steps carry χ from the even and
  from the odd chains (``ChiResult.halves``: independent halves, each with its own SGLD noise and,
  for the coupled estimator, its own probe sets). The solve is repeated on each half; the cosine
  between the two solved steps Δh_A, Δh_B says whether the weights are a property of the model or
  of this sample. Below ``REPRODUCIBLE_COSINE`` (0.7) it is a warning.
* **Drift** (:func:`drift_warnings`): χ recomputed with each chain's linear trend over its draws
  removed (covariance estimator: a targeted entry moving by more than its SE), or the coupled
  estimator's late-vs-early half difference (|drift z| >= 3 on a targeted entry).
* **Posterior check** (:func:`posterior_check`): one coupled pair of samplings at the base weights
  h0 and at the solved weights h1 (common random numbers, :mod:`patternlang.runtime.services.coupled`)
  measures the change of every target's observable along the *actual* step, beside the linear
  prediction the solver relied on: the ratio measured / predicted and z = (measured − predicted) /
  combined SE. Two samplings per chain; run when the solve's susceptibility uses the coupled
  estimator (its machinery and settings).
"""

from __future__ import annotations

import numpy as np

from patternlang.engine.directions import cosine
from patternlang.plan.ir import SampleStep, SolveStep, SusceptibilityStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import (ChiResult, PosteriorCheckRow, Reproducibility)
from patternlang.runtime.services.coupled import CoupledRun, measure_step
from patternlang.runtime.services.rows import Rows, linear_targets

REPRODUCIBLE_COSINE = 0.7


def split_half(step: SolveStep, ctx: StepContext, rows, baseline: dict[str, float],
               full_delta: np.ndarray | None) -> Reproducibility | None:
    """Solve once per half of the chains; the cosine of the two steps and each half's predicted
    target changes (None when an input susceptibility has no halves, or a half is infeasible)."""
    from patternlang.engine.solve import solve_weights

    results = [(sid, ctx.result(sid, ChiResult)) for sid in step.susceptibilities]
    if any(r.halves is None for _, r in results):
        return None
    h0 = np.array([baseline[c] for c in rows.components])
    h0 = h0 / h0.sum()
    steps, predicted = [], []
    for i in (0, 1):
        half = Rows(step.id, [(sid, r.model_copy(update={"chi": r.halves[i].chi,
                                                         "chi_se": r.halves[i].chi_se}))
                              for sid, r in results])
        targets, _ = linear_targets(step.targets, half, step.id, h0)
        sol = solve_weights(half.response, half.response_se, h0, half.components, half.names,
                            targets, list(step.constraints), regularization=step.regularization,
                            mu0=half.mu0, step=step.id)
        if sol.delta_h is None:
            return None
        steps.append(np.asarray(sol.delta_h, float))
        predicted.append({t.label: t.predicted for t in sol.targets})
    cos = cosine(*steps)
    out = Reproducibility(cosine=cos, delta_h=[dict(zip(rows.components, map(float, s))) for s in steps],
                          predicted=predicted,
                          cosine_full=[cosine(s, full_delta) for s in steps] if full_delta is not None
                          else None)
    if cos is None or cos < REPRODUCIBLE_COSINE:
        out.warning = (f"the weights are not reproducible at this sampling budget: solved on each "
                       f"half of the chains the steps have cosine "
                       f"{'n/a' if cos is None else f'{cos:.2f}'} (< {REPRODUCIBLE_COSINE}). Remedy: "
                       "the coupled estimator, more chains or draws, or a later checkpoint")
    return out


def drift_warnings(step: SolveStep, ctx: StepContext, rows, targets: list) -> list[str]:
    """Warnings for targeted χ entries that drift (module docstring), over the free components."""
    used = sorted({i for t in targets for i in np.flatnonzero(t.coeffs)})
    out, offset = [], 0
    for sid in step.susceptibilities:
        r = ctx.result(sid, ChiResult)
        m = len(r.observables)
        mine = [i - offset for i in used if offset <= i < offset + m]
        offset += m
        if r.estimator == "coupled" and r.coupled is not None:
            dz = np.array(r.coupled.drift_z, float)
            for i in mine:
                for j, k in enumerate(r.components):
                    if r.coupled.components and k in r.coupled.components and abs(dz[i, j]) >= 3:
                        out.append(f"{sid}: chi[{r.observables[i]}, {k}] drifts over the draws "
                                   f"(late - early half: z = {dz[i, j]:+.1f}); a longer burn-in or "
                                   "more draws let the chains settle")
        elif r.chi_detrended is not None:
            chi, det = np.array(r.chi, float), np.array(r.chi_detrended, float)
            se = np.array(r.chi_se, float)
            for i in mine:
                for j, k in enumerate(r.components):
                    if np.isfinite(se[i, j]) and abs(det[i, j] - chi[i, j]) > se[i, j]:
                        out.append(f"{sid}: chi[{r.observables[i]}, {k}] moves by more than its SE "
                                   f"when each chain's linear trend is removed ({chi[i, j]:.3g} -> "
                                   f"{det[i, j]:.3g}, SE {se[i, j]:.2g}): the chains drift and the "
                                   "drift poses as chi. Remedy: a longer burn-in, or the coupled "
                                   "estimator")
    return out


def posterior_check(step: SolveStep, ctx: StepContext, rows, targets: list,
                    weights: dict[str, float], baseline: dict[str, float]) -> list[PosteriorCheckRow]:
    """Measured vs predicted change of each target along the solved step (module docstring); []
    unless the solve reads exactly one susceptibility and it uses the coupled estimator."""
    if len(step.susceptibilities) != 1:
        return []
    sid = step.susceptibilities[0]
    sus = ctx.plan.step_as(sid, SusceptibilityStep)
    if sus.estimator is None:
        return []
    from patternlang.engine.solve.resolved import prediction, target_response

    sample = ctx.plan.step_as(sus.sample, SampleStep)  # as it ran: its ε and draws
    used = ctx.result(sid, ChiResult).coupled  # the chains and draws the estimate settled on
    chains = used.chains if used else sus.estimator.chains or sample.sampler.chains
    draws = used.draws if used else sus.estimator.draws or sample.sampler.draws
    run = CoupledRun(sample, sus.estimator.delta, list(rows.components), chains, draws,
                     label="posterior-check", first_center=True)
    total = float(sum(baseline.values()))
    h0 = {k: v / total for k, v in baseline.items()}
    per_chain = measure_step(run, ctx, h0, weights)  # [C, M]: ⟨φ⟩(h1) − ⟨φ⟩(h0) per chain
    dh = np.array([weights[c] - h0[c] for c in rows.components])
    out = []
    for t in targets:
        if t.kind == "move":
            continue
        c = np.asarray(t.coeffs, float)
        meas = per_chain @ c
        m = float(meas.mean())
        m_se = float(meas.std(ddof=1) / np.sqrt(len(meas))) if len(meas) > 1 else float("nan")
        reps = None if rows.replicates is None else np.einsum("m,cmk->ck", c, rows.replicates)
        row, row_se = target_response(c, rows.response, rows.response_se, reps)
        pred, p_se = prediction(row, row_se, dh, reps)
        err = float(np.hypot(m_se, p_se))
        out.append(PosteriorCheckRow(
            target=t.label, kind=t.kind, measured=m, measured_se=m_se, predicted=pred,
            predicted_se=p_se, ratio=m / pred if pred else None,
            z=(m - pred) / err if err > 0 else None,
            measured_z=m / m_se if m_se > 0 else None))
    return out


def check_warnings(rows: list[PosteriorCheckRow]) -> list[str]:
    """A warning per target whose measured change contradicts the prediction: the opposite sign
    with |measured z| >= 2, or |z| >= 3 against the prediction."""
    out = []
    for r in rows:
        if r.kind == "hold" or r.measured is None or r.predicted is None:
            continue
        opposite = r.measured_z is not None and abs(r.measured_z) >= 2 and r.measured * r.predicted < 0
        if opposite or (r.z is not None and abs(r.z) >= 3):
            out.append(f"posterior check of '{r.target}': sampled at the solved weights, it moved "
                       f"{r.measured:+.3g} ± {r.measured_se:.2g} where the linear response predicted "
                       f"{r.predicted:+.3g} ± {r.predicted_se:.2g}"
                       + (" (the opposite sign)" if opposite else "")
                       + ". The step leaves the linear regime or chi is off: a smaller trust region "
                       "or more draws")
    return out


__all__ = ["split_half", "drift_warnings", "posterior_check", "check_warnings", "REPRODUCIBLE_COSINE"]

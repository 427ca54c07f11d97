"""Is a target resolved on the step the solver can take? z-scores of target responses, and warnings.

A target is a linear functional c of the observable coordinates; its response to the mixture is the
row ``a = cᵀR`` (R = nβ·χ, observables x components) with standard errors
``se_a = sqrt((c²)ᵀ se_R²)`` (entries taken as independent).

**What the solver can move.** The solver changes the weights by a step Δh that sums to zero and
leaves fixed components (``fixed(...)``) and components held at zero (``weight(k) <= 0`` with
h_k = 0) where they are: Δh lies in the *movable subspace* S = {Δh : Σ Δh = 0, Δh_k = 0 off the
free set F}. Only the part of ``a`` in S — the row projected on S — changes anything the solver can
do: a column of ``a`` that no feasible step reaches (a fixed component's), or a response common to
every component (which a sum-zero step cancels), says nothing about the weights.

**The rule.** A raise / lower / reach / move target is *resolved* when its projected row differs
from zero beyond its noise: the Wald statistic W = pᵀ Σ_p⁻¹ p of the projected row's coordinates p
in an orthonormal basis of S (Σ_p their covariance from ``se_a``) is referred to χ² with
dim S = |F| − 1 degrees of freedom, and its p-value converted to the |z| of a two-sided normal test
with the same p (``movable_z``). With one degree of freedom this is |p/se|; with more, it accounts
for the solver choosing the best of several directions (the largest single-column |z| of |F|
noisy columns exceeds 3 by chance far more often than 1 in 370). Resolved when ``movable_z``
>= ``RESOLVED_Z`` (3). Where the row comes from C independent replicates (the coupled estimator's
chains), the covariance of p is theirs — a row's entries are correlated — and the test is
Hotelling's T² with its exact small-sample F law (:func:`hotelling_z`).

A ``hold`` is resolved when, along the step the solver took, its prediction's interval fits inside
its tolerance: |a·Δh| + 3·se(a·Δh) <= tolerance (:func:`hold_resolution`; before a step exists it is
judged on the movable-step rule like the others).

An unresolved target means the solver's weights for it come from noise: the solution carries a
warning naming the target and the remedy, and ``require resolved`` makes it an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RESOLVED_Z = 3.0
REMEDY = ("the coupled estimator where not yet used (estimator = coupled(delta = 0.05) on the "
          "susceptibility), more draws or chains (z grows as the square root of chains x draws), or a later checkpoint "
          "where the observable responds more strongly")


@dataclass
class TargetResolution:
    """One target's resolution: z per component of its row, the movable-step z (Wald test on the
    row projected on the steps the solver can take) and its degrees of freedom; for a ``hold``
    along a solved step, the predicted change, its SE and the tolerance."""

    label: str
    z: dict[str, float | None]
    max_abs_z: float
    movable_z: float
    dof: int
    resolved: bool
    kind: str = "raise"
    predicted: float | None = None
    predicted_se: float | None = None
    tolerance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "z": self.z, "max_abs_z": _num(self.max_abs_z),
                "movable_z": _num(self.movable_z), "dof": self.dof, "resolved": self.resolved,
                "predicted": _opt(self.predicted), "predicted_se": _opt(self.predicted_se),
                "tolerance": _opt(self.tolerance)}


def movable_basis(free: np.ndarray) -> np.ndarray:
    """An orthonormal basis [K, |F| − 1] of the sum-zero steps supported on the free components
    (``free``: bool [K]); empty (K x 0) when fewer than two are free."""
    free = np.asarray(free, bool)
    idx = np.flatnonzero(free)
    K = len(free)
    if len(idx) < 2:
        return np.zeros((K, 0))
    # Helmert-style contrasts on the free components, orthonormalised
    raw = np.zeros((K, len(idx) - 1))
    for j in range(1, len(idx)):
        raw[idx[:j], j - 1] = 1.0 / j
        raw[idx[j], j - 1] = -1.0
    q, _ = np.linalg.qr(raw)
    return q


def movable_z(row: np.ndarray, se: np.ndarray, free: np.ndarray,
              replicates: np.ndarray | None = None) -> tuple[float, int]:
    """(|z| of the test of the row's movable projection, degrees of freedom) — see the module
    docstring; NaN when no step can move anything or an SE is missing.

    With ``replicates`` ([C, K]: the row from each of C independent replicates, e.g. the coupled
    estimator's chains, whose mean is ``row``), the projection's covariance is estimated from
    them — the entries of a row are correlated (they share a chain's noise and probe set, and a
    column derived from the others is anti-correlated with them), which the independent-entries
    formula gets wrong in either direction — and the statistic is Hotelling's T², referred to its
    exact F distribution (C − 1 degrees of freedom for the covariance: with few chains the test is
    strict, as it should be)."""
    B = movable_basis(free)
    dof = B.shape[1]
    row, se = np.asarray(row, float), np.asarray(se, float)
    if dof == 0 or not np.all(np.isfinite(row @ B)):
        return float("nan"), dof
    used = np.any(B != 0, axis=1)
    if replicates is not None and len(replicates) > dof + 1 and \
            np.all(np.isfinite(np.asarray(replicates, float)[:, used])):
        return hotelling_z(np.nan_to_num(np.asarray(replicates, float)) @ B), dof
    if not np.all(np.isfinite(se[used])):
        return float("nan"), dof
    p = B.T @ row
    cov = B.T @ np.diag(se ** 2) @ B
    if not np.all(np.isfinite(cov)) or np.linalg.matrix_rank(cov) < dof:
        return float("nan"), dof
    wald = float(p @ np.linalg.solve(cov, p))
    return wald_to_z(wald, dof), dof


def hotelling_z(p: np.ndarray) -> float:
    """|z| of Hotelling's one-sample test that the mean of the rows of ``p`` [C, d] is zero:
    T² = C·p̄ᵀS⁻¹p̄ with S the sample covariance, (C − d)/(d(C − 1))·T² ~ F(d, C − d)."""
    from scipy.stats import f, norm  # imported here: the front end must not pay for scipy

    C, d = p.shape
    mean, S = p.mean(0), np.atleast_2d(np.cov(p.T))
    if not np.all(np.isfinite(S)) or np.linalg.matrix_rank(S) < d:
        return float("nan")
    t2 = float(C * mean @ np.linalg.solve(S, mean))
    pval = float(f.sf((C - d) / (d * (C - 1)) * t2, d, C - d))
    return float(norm.isf(pval / 2)) if pval > 0 else float("inf")


def wald_to_z(wald: float, dof: int) -> float:
    """The |z| of a two-sided normal test with the p-value of ``wald`` under χ²(``dof``)."""
    if dof == 1:
        return float(np.sqrt(max(wald, 0.0)))
    from scipy.stats import chi2, norm  # imported here: the front end must not pay for scipy

    p = float(chi2.sf(max(wald, 0.0), dof))
    return float(norm.isf(p / 2)) if p > 0 else float("inf")


def target_resolution(coeffs: list[np.ndarray], labels: list[str], response: np.ndarray,
                      response_se: np.ndarray, comp_names: list[str], free: np.ndarray | None = None,
                      kinds: list[str] | None = None, delta_h: np.ndarray | None = None,
                      tolerances: list[float | None] | None = None,
                      z_min: float = RESOLVED_Z,
                      replicates: np.ndarray | None = None) -> list[TargetResolution]:
    """One :class:`TargetResolution` per target (coefficient vector over the rows of ``response``).

    ``free`` marks the components a step may move (default: all); ``kinds`` the target kinds
    (default raise); a ``hold`` is judged along ``delta_h`` with its ``tolerances`` entry when both
    are given (:func:`hold_resolution`), else on the movable-step rule like the others.
    ``replicates`` [C, M, K]: the response from C independent replicates (the coupled estimator's
    chains), for the movable-step test (:func:`movable_z`)."""
    free = np.ones(len(comp_names), bool) if free is None else np.asarray(free, bool)
    kinds = kinds or ["raise"] * len(labels)
    tolerances = tolerances or [None] * len(labels)
    out = []
    for c, label, kind, tol in zip(coeffs, labels, kinds, tolerances):
        reps = None if replicates is None else np.einsum("m,cmk->ck", np.asarray(c, float), replicates)
        row, se = target_response(c, response, response_se, reps)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, row / se, np.nan)
        finite = np.abs(z[np.isfinite(z)])
        top = float(finite.max()) if finite.size else float("nan")
        mz, dof = movable_z(row, se, free, reps)
        res = TargetResolution(label, {k: _num(v) for k, v in zip(comp_names, z)}, top, mz, dof,
                               bool(np.isfinite(mz) and mz >= z_min), kind)
        if kind == "hold" and delta_h is not None and tol is not None:
            res.predicted, res.predicted_se = prediction(row, se, delta_h, reps)
            res.tolerance = float(tol)
            res.resolved = hold_resolution(res.predicted, res.predicted_se, tol)
        out.append(res)
    return out


def prediction(row: np.ndarray, se: np.ndarray, delta_h: np.ndarray,
               replicates: np.ndarray | None = None) -> tuple[float, float]:
    """The predicted change a·Δh along a step and its SE sqrt(Σ Δh_k² se_k²); with ``replicates``
    ([C, K] rows) never below their spread along the step, sd_c(a_c·Δh)/√C (the entries co-vary)."""
    d = np.asarray(delta_h, float)
    se_p = float(np.sqrt(np.sum(d ** 2 * np.asarray(se, float) ** 2)))
    if _usable(replicates):
        along = np.asarray(replicates, float) @ d
        se_p = float(np.fmax(se_p, along.std(ddof=1) / np.sqrt(len(along))))
    return float(np.asarray(row) @ d), se_p


def hold_resolution(predicted: float, se: float, tolerance: float, z_min: float = RESOLVED_Z) -> bool:
    """A hold is resolved when |predicted| + z_min·se fits inside its tolerance."""
    return bool(np.isfinite(predicted) and np.isfinite(se) and abs(predicted) + z_min * se <= tolerance)


def target_response(coeffs: np.ndarray, response: np.ndarray, response_se: np.ndarray,
                    replicates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A target's response row ``a = cᵀR`` per component and its standard errors
    ``sqrt((c²)ᵀ se_R²)`` (the entries of R taken as independent). With ``replicates`` ([C, K]:
    the row from each of C independent replicates, the coupled chains) the SE is never below their
    spread, sd_c(a_c)/√C: the coordinates a target combines (the heads of ``mean(ih)``) co-vary
    within a chain — they share its noise and probe set — which the independent formula misses."""
    c = np.asarray(coeffs, dtype=np.float64)
    row = c @ np.asarray(response, np.float64)
    se = np.sqrt((c ** 2) @ (np.asarray(response_se, np.float64) ** 2))
    if _usable(replicates):
        reps = np.asarray(replicates, float)
        spread = reps.std(0, ddof=1) / np.sqrt(len(reps))
        se = np.where(np.isfinite(spread), np.fmax(se, spread), se)
    return row, se


def _usable(replicates: np.ndarray | None) -> bool:
    return replicates is not None and len(replicates) > 1


def free_components(components: list[str], h0: np.ndarray, constraints: list[Any]) -> np.ndarray:
    """Which components a feasible step can move: not ``fixed(...)``, and not held at zero (a
    single-component ``weight(k) <= c`` or ``== c`` with c <= 0 at h_k = 0)."""
    free = np.ones(len(components), bool)
    h0 = np.asarray(h0, float)
    for spec in constraints:
        if spec.kind == "fixed":
            for k in spec.components:
                if k in components:
                    free[components.index(k)] = False
        elif spec.kind == "linear" and len(spec.coeffs) == 1 and spec.op in ("<=", "=="):
            (k, a), = spec.coeffs.items()
            if k in components and a > 0 and spec.rhs / a <= 0 and h0[components.index(k)] <= 0:
                free[components.index(k)] = False
    return free


def unresolved_warnings(resolutions: list[TargetResolution], z_min: float = RESOLVED_Z) -> list[str]:
    """One warning per unresolved target, naming it, its movable-step z and the remedy."""
    out = []
    for r in resolutions:
        if r.resolved:
            continue
        if r.kind == "hold" and r.tolerance is not None:
            out.append(f"target '{r.label}' (hold) is not resolved: along the solved step it is "
                       f"predicted to move {r.predicted:+.3g} ± {r.predicted_se:.2g}, and "
                       f"|prediction| + {z_min:g} SE exceeds its tolerance {r.tolerance:.3g}, so "
                       f"the step may break it. Remedy: {REMEDY}")
            continue
        where = (f"on the steps the solver can take (movable-step |z| = {_show(r.movable_z)} over "
                 f"{r.dof} free direction{'s' if r.dof != 1 else ''}")
        if np.isfinite(r.max_abs_z) and r.max_abs_z >= z_min:
            where += (f"; a single column reaches |z| = {r.max_abs_z:.2g}, but only in a component "
                      "the solver cannot move or in a response common to every component, which a "
                      "sum-zero step cancels")
        more = (f"; about {(z_min / r.movable_z) ** 2:.1f}x the draws would resolve it if chi "
                f"stays put" if np.isfinite(r.movable_z) and r.movable_z > 0 else "")
        out.append(f"target '{r.label}' is not resolved {where}), so its weights come from noise"
                   f"{more}. Remedy: {REMEDY}")
    return out


def _show(x: float) -> str:
    return f"{x:.2g}" if np.isfinite(x) else "n/a"


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _opt(x: float | None) -> float | None:
    return None if x is None else _num(x)

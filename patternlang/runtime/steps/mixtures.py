"""Mixture weights of the verification arms.

* ``baseline``: the spec's mixture h.
* ``patterned``: the solver's h' = h + Δh.
* ``opposite``: h - Δh (the same step in the other direction), clipped to the simplex.
* ``control``: h + δ with δ a random sum-zero direction of the same length as Δh (seeded), clipped to
  the simplex: the same amount of change, but not in the χ direction. If patterned moves the
  observable and control does not, the effect comes from the direction, not from any change.
* ``orthogonal``: like ``control``, but δ is also orthogonal to Δh. A random direction can share a
  good part of Δh by chance (with few components it often does); this arm cannot, so it is the
  sharper test of "the χ direction, not any step of this size".

Both random arms stay in the solve's *equality* constraints (``weight(pos) == 0.5``, fixed
components, linear equalities): δ is drawn in the subspace they leave free, so the control changes
only what the solver was allowed to change. Inequalities are not imposed (the step has the same
length as Δh, which met them); the final clip to the simplex can still move a weight that sits at 0.
"""

from __future__ import annotations

import numpy as np

from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import SolveResult


def resolve_mixture(step, ctx: StepContext) -> dict[str, float]:
    """The weights a train step uses: its own mixture, or the final weights of ``mixture_from``."""
    if getattr(step, "mixture_from", None):
        return dict(ctx.result(step.mixture_from, SolveResult).final_weights)
    return dict(step.mixture.weights)


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based, exact)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, len(v) + 1)
    rho = np.nonzero(u * k > (css - 1))[0][-1]
    theta = (css[rho] - 1) / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def arm_weights(arm: str, h0: dict[str, float], h1: dict[str, float], seed: int,
                held: list[dict[str, float]] | None = None) -> dict[str, float]:
    """Weights of a verification arm (see the module docstring). ``held``: coefficient rows of the
    solve's equality constraints (by component name), which the random arms' δ keeps at zero."""
    names = list(h0)
    a = np.array([h0[n] for n in names])
    b = np.array([h1.get(n, 0.0) for n in names])
    rows = [np.array([r.get(n, 0.0) for n in names]) for r in held or []]
    if arm == "baseline":
        w = a
    elif arm == "patterned":
        w = b
    elif arm == "opposite":
        w = project_simplex(a - (b - a))
    elif arm == "control":
        w = project_simplex(a + random_direction(len(a), float(np.linalg.norm(b - a)), seed,
                                                 keep_zero=rows))
    elif arm == "orthogonal":
        w = project_simplex(a + random_direction(len(a), float(np.linalg.norm(b - a)), seed,
                                                 keep_zero=[*rows, b - a]))
    else:
        raise ValueError(f"unknown arm {arm!r}")
    return {n: float(x) for n, x in zip(names, w)}


def random_direction(k: int, length: float, seed: int,
                     keep_zero: list[np.ndarray] | None = None) -> np.ndarray:
    """A random direction d in R^k with Σ d = 0 and r·d = 0 for every row r of ``keep_zero`` (the
    step Δh for an orthogonal control, equality-constraint rows), scaled to ``length``. When those
    conditions leave no freedom (e.g. k = 2 and a nonzero step) the result is zero."""
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(k)
    basis = np.vstack([np.ones(k), *keep_zero]) if keep_zero else np.ones((1, k))
    q, r = np.linalg.qr(basis.T)  # orthonormal basis of the span of the conditions
    q = q[:, np.abs(np.diag(r)) > 1e-12 * max(1.0, np.abs(r).max())]
    d -= q @ (q.T @ d)
    n = np.linalg.norm(d)
    return d * (length / n) if n > 1e-12 else np.zeros(k)

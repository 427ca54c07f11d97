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
"""

from __future__ import annotations

import numpy as np

from patternlang.runtime.context import StepContext


def resolve_mixture(step, ctx: StepContext) -> dict[str, float]:
    """The weights a train step uses: its own mixture, or the solution of ``mixture_from``."""
    if getattr(step, "mixture_from", None):
        return dict(ctx.input_summary(step.mixture_from)["weights"])
    return dict(step.mixture.weights)


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based, exact)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, len(v) + 1)
    rho = np.nonzero(u * k > (css - 1))[0][-1]
    theta = (css[rho] - 1) / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def arm_weights(arm: str, h0: dict[str, float], h1: dict[str, float], seed: int) -> dict[str, float]:
    """Weights of a verification arm (see the module docstring)."""
    names = list(h0)
    a = np.array([h0[n] for n in names])
    b = np.array([h1.get(n, 0.0) for n in names])
    if arm == "baseline":
        w = a
    elif arm == "patterned":
        w = b
    elif arm == "opposite":
        w = project_simplex(a - (b - a))
    elif arm == "control":
        w = project_simplex(a + random_direction(len(a), float(np.linalg.norm(b - a)), seed))
    elif arm == "orthogonal":
        w = project_simplex(a + random_direction(len(a), float(np.linalg.norm(b - a)), seed,
                                                 orthogonal_to=b - a))
    else:
        raise ValueError(f"unknown arm {arm!r}")
    return {n: float(x) for n, x in zip(names, w)}


def random_direction(k: int, length: float, seed: int,
                     orthogonal_to: np.ndarray | None = None) -> np.ndarray:
    """A random direction in the sum-zero subspace of R^k (optionally orthogonal to a given
    vector), scaled to ``length``. With k = 2 the sum-zero subspace is a line, so no direction is
    orthogonal to a nonzero step: the result is then zero."""
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(k)
    d -= d.mean()
    if orthogonal_to is not None:
        u = np.asarray(orthogonal_to, float) - np.mean(orthogonal_to)
        nu = np.linalg.norm(u)
        if nu > 0:
            d -= (d @ u) / nu**2 * u
    n = np.linalg.norm(d)
    return d * (length / n) if n > 0 else d

"""Mixture weights of the verification arms.

* ``baseline``: the spec's mixture h.
* ``patterned``: the solver's h' = h + Δh.
* ``opposite``: h - Δh (the same step in the other direction), clipped to the simplex.
* ``control``: h + δ with δ a random sum-zero direction of the same length as Δh (seeded), clipped to
  the simplex: the same amount of change, but not in the χ direction. If patterned moves the
  observable and control does not, the effect comes from the direction, not from any change.
* ``random1`` … ``randomK`` (``random(K)``): K controls with K seeds, so the patterned arm can be
  ranked among steps of its length (a percentile, ``docs/validation.md``).
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

from patternlang.engine.directions import project_simplex, random_direction
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import SolveResult

__all__ = ["resolve_mixture", "arm_weights", "project_simplex", "random_direction"]


def resolve_mixture(step, ctx: StepContext) -> dict[str, float]:
    """The weights a train step uses: its own mixture, or the final weights of ``mixture_from``."""
    if getattr(step, "mixture_from", None):
        return dict(ctx.result(step.mixture_from, SolveResult).final_weights)
    return dict(step.mixture.weights)


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
    elif arm == "control" or arm.startswith("random"):  # random(K): one seed per arm
        w = project_simplex(a + random_direction(len(a), float(np.linalg.norm(b - a)), seed,
                                                 keep_zero=rows))
    elif arm == "orthogonal":
        w = project_simplex(a + random_direction(len(a), float(np.linalg.norm(b - a)), seed,
                                                 keep_zero=[*rows, b - a]))
    else:
        raise ValueError(f"unknown arm {arm!r}")
    return {n: float(x) for n, x in zip(names, w)}

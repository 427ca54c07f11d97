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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patternlang.engine.directions import project_simplex, random_direction
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import SolveResult
from patternlang.runtime.rundir import atomic_save_npz

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


# ------------------------------------------------------------------------------------------------
# Per-sample patterning: arms over atoms (examples of pools and whole components)
#
# A per-sample solution tilts the baseline p0 by the log-ratio l = log(p'/p0). Its arms: ``opposite``
# tilts by −l; ``control`` by a seeded random Gaussian tilt σ·ξ of the pools' examples (ξ = 0 on the
# other components: a random tilt of one heavy atom would be a component-level change, not a choice of
# examples); ``orthogonal`` by one whose ξ is also orthogonal to l (p0-weighted, centred). Both random
# tilts are scaled so that KL(p || p0) equals the patterned KL: the same amount of change as the
# solution, spent on randomly chosen examples. (An L2 step of the same length, as for components,
# would mostly be clipped away: a pool example weighs ~1/N.)


def _component_of(atoms: list[str]) -> np.ndarray:
    """The component of each atom (``k[i]`` -> ``k``; a component atom is its own)."""
    return np.array([a.split("[", 1)[0] for a in atoms])


@dataclass(frozen=True)
class SampleWeights:
    """What a per-sample solve wrote (``sample_weights.npz``, one writer and one reader here): the
    atoms (components that are not pools, then every pool example ``k[i]``), their baseline and
    solved weights ``p0`` and ``p``, and per pool ``k`` its new distribution over its examples."""

    atoms: list[str]
    p0: np.ndarray
    p: np.ndarray
    pools: dict[str, np.ndarray]

    @property
    def component_of(self) -> np.ndarray:
        """The component of each atom (``k[i]`` -> ``k``)."""
        return _component_of(self.atoms)

    @classmethod
    def of(cls, atoms: list[str], p: np.ndarray, p0: np.ndarray, pools: list[str]) -> SampleWeights:
        """The record of a solution ``p`` over ``atoms``: each pool's share renormalized (uniform
        when the solver left a pool no mass)."""
        comp = _component_of(atoms)
        dists = {}
        for k in pools:
            q = p[comp == k]
            mass = float(q.sum())
            dists[k] = q / mass if mass > 0 else np.full(len(q), 1.0 / len(q))
        return cls(list(atoms), p0, p, dists)

    def save(self, path: Path) -> None:
        comp = self.component_of
        arrays = {k: q for k, q in self.pools.items()}
        arrays.update({f"{k}.atoms": self.p[comp == k] for k in self.pools})
        atomic_save_npz(path, atoms=np.array(self.atoms, dtype=str), p=self.p, p0=self.p0, **arrays)

    @classmethod
    def load(cls, path: Path) -> SampleWeights:
        z = np.load(path)
        pools = {k: z[k] for k in z.files if "." not in k and k not in ("atoms", "p", "p0")}
        return cls([str(a) for a in z["atoms"]], z["p0"], z["p"], pools)


def sample_weights(ctx: StepContext, solve_id: str) -> SampleWeights | None:
    """The per-example weights a per-sample solve step wrote (None for a component solve)."""
    name = ctx.result(solve_id, SolveResult).sample_weights
    return SampleWeights.load(ctx.input_dir(solve_id).file(name)) if name else None


def pool_weights(ctx: StepContext, solve_id: str) -> dict[str, np.ndarray] | None:
    """The per-example distributions a per-sample solve step wrote (None for a component solve)."""
    found = sample_weights(ctx, solve_id)
    return found.pools if found is not None else None


def reweight_pools(components: dict, pools: dict[str, np.ndarray] | None) -> dict:
    """``components`` with each pool drawn by its per-example weights (ExampleComponent.reweighted)."""
    import torch

    if not pools:
        return components
    out = dict(components)
    for k, q in pools.items():
        out[k] = components[k].reweighted(torch.as_tensor(np.asarray(q, dtype=np.float64)))
    return out


def atom_arm(arm: str, p0: np.ndarray, p1: np.ndarray, seed: int,
             pooled: np.ndarray | None = None) -> np.ndarray:
    """Atom weights of a verification arm of a per-sample patterning (see above); ``pooled`` marks
    the atoms that are pool examples (default: all)."""
    supp = p0 > 0
    ell = np.where(supp & (p1 > 0), np.log(np.where(p1 > 0, p1, 1.0) / np.where(supp, p0, 1.0)), 0.0)
    if arm == "baseline":
        return p0.copy()
    if arm == "patterned":
        return p1.copy()
    if arm == "opposite":
        return _tilt(p0, -ell)
    if arm not in ("control", "orthogonal") and not arm.startswith("random"):
        raise ValueError(f"unknown arm {arm!r}")
    xi = np.random.default_rng(seed).standard_normal(len(p0))
    if pooled is not None:
        xi = np.where(pooled, xi, 0.0)
    xi -= p0 @ xi
    if arm == "orthogonal":
        lc = ell - p0 @ ell
        denom = float(p0 @ (lc * lc))
        if denom > 0:
            xi -= (p0 @ (xi * lc)) / denom * lc
    return _tilt(p0, _kl_scale(p0, xi, _kl(_tilt(p0, ell), p0)) * xi)


def _tilt(p0: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = np.where(p0 > 0, np.log(np.where(p0 > 0, p0, 1.0)) + y, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


def _kl(p: np.ndarray, p0: np.ndarray) -> float:
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / p0[m])))


def _kl_scale(p0: np.ndarray, xi: np.ndarray, target: float) -> float:
    """σ with KL(tilt(p0, σ·ξ) || p0) = target (KL grows monotonically with σ ≥ 0)."""
    if target <= 0 or not np.any(xi):
        return 0.0
    lo, hi = 0.0, 1.0
    while _kl(_tilt(p0, hi * xi), p0) < target and hi < 1e6:
        lo, hi = hi, hi * 2
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _kl(_tilt(p0, mid * xi), p0) < target else (lo, mid)
    return 0.5 * (lo + hi)

"""Steps in the space of mixtures: the simplex projection, random sum-zero directions that keep
the solve's equality constraints, and the rows of those constraints. Used by the verification arms
(``control``, ``orthogonal``, ``random(K)``) and by the proxy mixtures of the regression baseline;
the cosine between two steps (split halves, independent replicates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from patternlang.plan.ir import ConstraintSpec


def cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    """The cosine between two steps; None when either is zero (no direction to compare)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else None


def step_cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float | None:
    """:func:`cosine` of two steps given per component (a component missing from one is 0)."""
    keys = sorted(set(a) | set(b))
    return cosine(np.array([a.get(k, 0.0) for k in keys], float),
                  np.array([b.get(k, 0.0) for k in keys], float))


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based, exact)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, len(v) + 1)
    rho = np.nonzero(u * k > (css - 1))[0][-1]
    theta = (css[rho] - 1) / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


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


def equality_rows(constraints: Sequence[ConstraintSpec]) -> list[dict[str, float]]:
    """Coefficient rows of the equality constraints (fixed components, linear ``==``), by component
    name: the random arms and the proxy mixtures move the weights only where the solver could."""
    rows: list[dict[str, float]] = []
    for c in constraints:
        if c.kind == "fixed":
            rows += [{k: 1.0} for k in c.components]
        elif c.kind == "linear" and c.op == "==":
            rows.append(dict(c.coeffs))
    return rows

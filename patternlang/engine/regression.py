"""The black-box baseline: fit the targets on proxy trainings, solve the same problem on the fit.

RegMix (Liu et al., arXiv 2407.01492) and data mixing laws (Ye et al., arXiv 2403.16952) choose a
mixture by training many small proxy models at random mixtures, regressing the target on the
weights and optimizing the regression. Here, with the patterning's own constraints:

1. :func:`proxy_mixtures`: K mixtures spread over the feasible set around ``h0`` (uniform radius
   fraction along random directions inside the equality constraints, each direction stopped where
   the first constraint — simplex, inequalities, KL or L2 trust region — binds);
2. :func:`fit_target`: per target functional, ``y ≈ a + b·(h − h0)`` (ridge) or
   ``log y ≈ a + b·(h − h0)`` (log-linear, the mixing law's form), the ridge strength and (with
   ``model = "auto"``) the form chosen by leave-one-out cross-validation (closed form for ridge);
3. :func:`solve_on_fit`: the patterning's program with the fitted gradients as the response:
   :func:`patternlang.engine.solve.solve_weights` with the same targets, weights, constraints,
   trust region and regularization, so the two methods differ only in where the response came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Sequence

import cvxpy as cp
import numpy as np

from patternlang.engine.directions import random_direction
from patternlang.engine.solve import LinearTarget, Solution, solve_weights
from patternlang.engine.solve.program import build_groups
from patternlang.plan.ir import ConstraintSpec

#: ridge strengths tried, relative to the mean eigenvalue of the centred Gram matrix
ALPHAS = tuple(10.0 ** np.arange(-6, 3.5, 0.5))


def feasible(x: np.ndarray, groups: list[Any], tol: float = 1e-9) -> bool:
    """Whether ``x`` is a mixture inside every constraint group (equalities within ``tol``)."""
    return bool(np.all(x >= -tol) and all(g.slack(x) >= -tol * 10 for g in groups))


def ray_length(h0: np.ndarray, d: np.ndarray, groups: list[Any], iters: int = 50) -> float:
    """The largest ``t`` with ``h0 + t·d`` feasible (the feasible set is convex and contains h0, so
    it meets the ray in an interval ``[0, t]``; bisection)."""
    neg = d < -1e-15
    hi = float(np.min(h0[neg] / -d[neg])) if neg.any() else 1.0
    if feasible(h0 + hi * d, groups):
        return hi
    lo = 0.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if feasible(h0 + mid * d, groups) else (lo, mid)
    return lo


def proxy_mixtures(h0: np.ndarray, comp_names: list[str], constraints: Sequence[ConstraintSpec],
                   held: list[np.ndarray], k: int, seed: int) -> np.ndarray:
    """K feasible mixtures around ``h0`` (module docstring, step 1), shape ``[k, components]``:
    direction uniform on the sphere of the free subspace, radius ``t_max·u^(1/m)`` (``m`` its
    dimension) so the sample fills the feasible region rather than crowding ``h0``."""
    groups = build_groups(cp.Variable(len(h0)), h0, list(constraints), comp_names, "regression")
    m = max(1, len(h0) - 1 - len(held))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        d = random_direction(len(h0), 1.0, int(rng.integers(2**31)), keep_zero=held)
        t = ray_length(h0, d, groups) * rng.uniform() ** (1.0 / m)
        out.append(np.clip(h0 + t * d, 0.0, None))
    return np.array([x / x.sum() for x in out])


def design_problems(mixtures: np.ndarray, h0: np.ndarray, free: int, tol: float = 1e-6) -> list[str]:
    """Why a regression design says nothing, one sentence each; ``[]`` when it can be a baseline.

    * repeated proxy mixtures (within ``tol``), and how many are the base mixture itself: a
      repeat adds no information about the slope;
    * fewer distinct mixtures than ``free + 1`` (an intercept and one slope per free direction of
      the weights: components − 1 − equality constraints): the fit is not determined.

    A poor fit of a sound design (leave-one-out R² below 0: noisy proxies) is a result, reported
    with the fit, not a degenerate design.
    """
    k = len(mixtures)
    rounded = {tuple(np.round(np.asarray(m) / tol).astype(np.int64)) for m in mixtures}
    out = []
    at_base = int(sum(np.max(np.abs(np.asarray(m) - h0)) <= tol for m in mixtures))
    if len(rounded) < k or at_base:
        out.append(f"{k - len(rounded)} of the {k} proxy mixtures repeat another"
                   + (f" ({at_base} are the base mixture)" if at_base else ""))
    if len(rounded) < free + 1:
        out.append(f"{len(rounded)} distinct proxy mixtures for {free} free direction(s) of the "
                   f"weights: a fit needs at least {free + 1}")
    return out


@dataclass(frozen=True)
class Fit:
    """A fitted target model: its value and gradient at ``h0``, the form (``linear`` or
    ``loglinear``), the ridge strength and the leave-one-out RMSE (in the target's units)."""

    value: float
    gradient: np.ndarray
    model: str
    alpha: float
    cv_rmse: float
    r2_loo: float


def ridge_loo(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Ridge with an unpenalized intercept: ``(intercept at x = 0, slope, leave-one-out
    predictions)``. LOO in closed form: residual ``e_i / (1 − H_ii)`` with H the hat matrix."""
    xm, ym = x.mean(0), y.mean()
    xc, yc = x - xm, y - ym
    g = xc.T @ xc
    lam = alpha * max(np.trace(g) / g.shape[0], 1e-300)
    inv = np.linalg.inv(g + lam * np.eye(g.shape[0]))
    b = inv @ xc.T @ yc
    hat = np.einsum("ij,jk,ik->i", xc, inv, xc) + 1.0 / len(y)
    resid = y - (ym + xc @ b)
    loo = y - resid / np.clip(1.0 - hat, 1e-12, None)
    return float(ym - xm @ b), b, loo


def _best(x: np.ndarray, z: np.ndarray, y: np.ndarray, back: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float, np.ndarray,
                                                                       float]:
    """The alpha whose LOO predictions (mapped back to y's units by ``back``) fit y best."""
    best = None
    for alpha in ALPHAS:
        a, b, loo = ridge_loo(x, z, alpha)
        rmse = float(np.sqrt(np.mean((back(loo) - y) ** 2)))
        if best is None or rmse < best[3] - 1e-15:
            best = (alpha, a, b, rmse)
    assert best is not None
    return best[1], best[0], best[2], best[3]


def fit_target(h: np.ndarray, y: np.ndarray, h0: np.ndarray, model: str = "auto") -> Fit:
    """Fit one target over the proxy mixtures ``h`` ``[K, components]`` (module docstring, 2)."""
    x = h - h0
    y = np.asarray(y, float)
    forms = ["linear", "loglinear"] if model == "auto" else [model]
    if np.any(y <= 0):
        forms = [f for f in forms if f == "linear"] or ["linear"]  # log needs y > 0
    fits = []
    for form in forms:
        if form == "linear":
            a, alpha, b, rmse = _best(x, y, y, lambda v: v)
            fits.append(Fit(a, b, form, alpha, rmse, 0.0))
        else:
            a, alpha, b, rmse = _best(x, np.log(y), y, np.exp)
            fits.append(Fit(float(np.exp(a)), float(np.exp(a)) * b, form, alpha, rmse, 0.0))
    best = min(fits, key=lambda f: f.cv_rmse)
    var = float(np.mean((y - y.mean()) ** 2))
    r2 = 1.0 - best.cv_rmse**2 / var if var > 0 else 0.0
    return Fit(best.value, best.gradient, best.model, best.alpha, best.cv_rmse, r2)


def solve_on_fit(fits: list[Fit], targets: list[LinearTarget], h0: np.ndarray,
                 comp_names: list[str], constraints: list[ConstraintSpec],
                 regularization: float, step: str) -> Solution:
    """The patterning's program with the fitted response (module docstring, step 3): one row per
    target, the target's functional a unit vector on its row, ``mu0`` the fitted values at h0."""
    n = len(fits)
    response = np.vstack([f.gradient for f in fits])
    unit = [LinearTarget(coeffs=np.eye(n)[i], kind=t.kind, amount=t.amount, value=t.value,
                         weight=t.weight, label=t.label) for i, t in enumerate(targets)]
    return solve_weights(response, None, h0, comp_names, [t.label for t in targets], unit,
                         constraints, regularization=regularization,
                         mu0=np.array([f.value for f in fits]), step=step)

"""Cross-check against an independent solver (scipy SLSQP, multi-start) at posterior scale: the
response is 1e-4, the targets ask for far more than a trust-region step gives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from patternlang.engine.solve import LinearTarget, solve_weights
from patternlang.plan.ir import ConstraintSpec


def _kl(h: np.ndarray, h0: np.ndarray) -> float:
    pos = h > 0
    return float(np.sum(h[pos] * np.log(h[pos] / h0[pos])))


@pytest.mark.parametrize("seed, kind, radius", [(0, "kl", 0.05), (1, "l2", 0.1), (2, "kl", 0.02),
                                                (3, "l2", 0.05)])
def test_matches_slsqp_when_trust_region_binds(seed, kind, radius):
    rng = np.random.default_rng(seed)
    m, k = 6, 4
    r = 1e-4 * rng.normal(size=(m, k))
    h0 = rng.dirichlet(np.ones(k))
    targets = [LinearTarget(np.eye(m)[0], "raise", amount=0.05, label="x"),
               LinearTarget(np.eye(m)[1], "hold", weight=2.0, label="y")]
    cons = [ConstraintSpec(kind=kind, rhs=radius, label="trust"),
            ConstraintSpec(kind="linear", coeffs={"a": 1.0}, op="<=", rhs=0.5, label="cap a")]
    sol = solve_weights(r, None, h0, list("abcd"), list("uvwxyz"), targets, cons)

    a, d, w = r[:2], np.array([0.05, 0.0]), np.array([1.0, 2.0])

    def fit(h):  # in units of 1e-8 so SLSQP's tolerances bite
        return float(np.sum(w * (a @ (h - h0) - d) ** 2) * 1e8)

    trust = (lambda h: radius - _kl(np.clip(h, 1e-300, None), h0)) if kind == "kl" \
        else (lambda h: radius - np.linalg.norm(h - h0))
    scipy_cons = [{"type": "eq", "fun": lambda h: h.sum() - 1},
                  {"type": "ineq", "fun": lambda h: 0.5 - h[0]}, {"type": "ineq", "fun": trust}]
    starts = [h0] + [rng.dirichlet(np.ones(k)) for _ in range(4)]
    runs = [minimize(fit, x0, method="SLSQP", bounds=[(0, 1)] * k, constraints=scipy_cons,
                     options={"ftol": 1e-14, "maxiter": 1000}) for x0 in starts]
    # SLSQP often stops with "positive directional derivative" at a good point, slightly outside
    # the trust region (~1e-7): judge feasibility loosely and compare with matching tolerances
    feasible = [r for r in runs if abs(r.x.sum() - 1) < 1e-9 and r.x.min() > -1e-9
                and r.x[0] <= 0.5 + 1e-9 and trust(r.x) > -1e-6]
    best = min(feasible, key=lambda r: r.fun)
    assert sol.status == "optimal"
    assert fit(sol.weights) <= best.fun * (1 + 1e-6)
    # the fit comparison above is the strict check; SLSQP itself stops up to ~2e-5 away from the
    # optimum in weight space (measured with scipy 1.17.1; 2e-6 held with earlier versions)
    np.testing.assert_allclose(sol.weights, best.x, atol=5e-5)
    assert sol.diagnostics.trust_region_binding == ["trust"]

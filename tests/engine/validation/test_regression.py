"""The black-box baseline's pieces (engine/regression.py): proxy mixtures inside the constraints,
ridge with closed-form leave-one-out against brute force, recovery of known linear and log-linear
responses, and the solve on an exact fit equal to the solve on the true response."""

from __future__ import annotations

import numpy as np
import pytest

from patternlang.engine import regression as reg
from patternlang.engine.solve import LinearTarget, solve_weights
from patternlang.engine.solve.program import kl_divergence
from patternlang.plan.ir import ConstraintSpec

ABC = ["a", "b", "c"]
H0 = np.array([0.35, 0.45, 0.2])
KL = ConstraintSpec(kind="kl", rhs=0.05)
FLOOR = ConstraintSpec(kind="linear", coeffs={"c": 1.0}, op=">=", rhs=0.05)


def test_proxy_mixtures_fill_the_feasible_set():
    mix = reg.proxy_mixtures(H0, ABC, [KL, FLOOR], [], 40, seed=3)
    assert mix.shape == (40, 3)
    assert np.all(mix >= 0) and np.allclose(mix.sum(1), 1)
    kls = [kl_divergence(m, H0) for m in mix]
    assert max(kls) <= 0.05 + 1e-7 and np.all(mix[:, 2] >= 0.05 - 1e-9)
    assert max(kls) > 0.02  # reaches out toward the trust region's edge, not only around h0
    again = reg.proxy_mixtures(H0, ABC, [KL, FLOOR], [], 40, seed=3)
    np.testing.assert_array_equal(mix, again)  # seeded


def test_proxy_mixtures_keep_equalities():
    fixed = ConstraintSpec(kind="fixed", components=["b"])
    mix = reg.proxy_mixtures(H0, ABC, [KL, fixed], [np.array([0.0, 1.0, 0.0])], 10, seed=0)
    np.testing.assert_allclose(mix[:, 1], 0.45, atol=1e-9)
    assert np.ptp(mix[:, 0]) > 0.01


def test_ridge_leave_one_out_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 3)), rng.normal(size=9)
    _, _, loo = reg.ridge_loo(x, y, 0.3)
    brute = []
    for i in range(9):
        keep = np.arange(9) != i
        a, b, _ = reg.ridge_loo(x[keep], y[keep], _rescale(x, keep, 0.3))
        brute.append(a + x[i] @ b)
    np.testing.assert_allclose(loo, brute, rtol=1e-8)


def _rescale(x, keep, alpha):
    """The alpha on the subset whose absolute penalty equals the full set's (alpha is relative to
    the mean eigenvalue of the centred Gram matrix, which changes when a row is left out)."""
    g = lambda z: np.trace((z - z.mean(0)).T @ (z - z.mean(0))) / z.shape[1]  # noqa: E731
    return alpha * g(x) / g(x[keep])


def test_linear_response_is_recovered():
    mix = reg.proxy_mixtures(H0, ABC, [KL], [], 16, seed=1)
    grad = np.array([2.0, -1.0, 0.5])
    y = 3.0 + (mix - H0) @ grad
    fit = reg.fit_target(mix, y, H0, "linear")
    centred = lambda g: g - g.mean()  # noqa: E731 - only sum-zero steps are possible
    np.testing.assert_allclose(centred(fit.gradient), centred(grad), atol=1e-3)
    assert fit.value == pytest.approx(3.0, abs=1e-4) and fit.r2_loo > 0.99


def test_loglinear_law_is_preferred_when_it_fits():
    mix = reg.proxy_mixtures(H0, ABC, [ConstraintSpec(kind="kl", rhs=0.5)], [], 16, seed=2)
    t = np.array([-6.0, 4.0, 0.0])
    y = np.exp(0.5 + (mix - H0) @ t)
    fit = reg.fit_target(mix, y, H0, "auto")
    assert fit.model == "loglinear" and fit.value == pytest.approx(np.exp(0.5), rel=1e-3)
    np.testing.assert_allclose(fit.gradient - fit.gradient.mean(), np.exp(0.5) * (t - t.mean()),
                               rtol=1e-2)


def test_solve_on_an_exact_fit_equals_the_solve_on_the_true_response():
    grad = np.array([[1.0, -0.5, -2.0], [0.2, 0.3, -0.1]])
    targets = [LinearTarget(coeffs=np.array([1.0, 0.0]), kind="raise", amount=0.1, label="up"),
               LinearTarget(coeffs=np.array([0.0, 1.0]), kind="hold", label="keep")]
    cons = [KL, FLOOR]
    truth = solve_weights(grad, None, H0, ABC, ["u", "k"], targets, cons)
    fits = [reg.Fit(0.0, g, "linear", 1e-6, 0.0, 1.0) for g in grad]
    got = reg.solve_on_fit(fits, targets, H0, ABC, cons, 1e-6, "test")
    np.testing.assert_allclose(got.weights, truth.weights, atol=1e-7)
    assert kl_divergence(got.weights, H0) <= 0.05 + 1e-6


def test_a_degenerate_design_is_named():
    """Issue 26 item 6: two of three proxies at the base mixture leave fewer distinct mixtures
    than the fit needs; a sound design has no problems."""
    h0 = np.array([0.4, 0.4, 0.2])
    bad = np.array([h0, h0, [0.5, 0.3, 0.2]])
    why = reg.design_problems(bad, h0, free=2)
    assert why[0] == "1 of the 3 proxy mixtures repeat another (2 are the base mixture)"
    assert "2 distinct proxy mixtures for 2 free direction(s)" in why[1] and len(why) == 2
    good = np.array([[0.5, 0.3, 0.2], [0.3, 0.4, 0.3], [0.4, 0.5, 0.1]])
    assert reg.design_problems(good, h0, free=2) == []

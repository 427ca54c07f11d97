"""The program without active constraints: pseudo-inverse limit, Tikhonov formula, target kinds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.linalg import null_space
from .solvecases import raise_target, unit

from patternlang.engine.solve import LinearTarget, solve_weights

NAMES2 = ["a", "b"]


def test_k2_hand_solved_pinv_limit():
    # dmu = 2*dh_a - dh_b with dh = (t, -t): dmu = 3t, so raising by 0.3 needs t = 0.1
    r = np.array([[2.0, -1.0]])
    sol = solve_weights(r, None, np.array([0.5, 0.5]), NAMES2, ["x"],
                        [raise_target(1, 0, 0.3)], [], regularization=1e-9)
    assert sol.status == "optimal"
    np.testing.assert_allclose(sol.delta_h, [0.1, -0.1], atol=1e-7)
    np.testing.assert_allclose(sol.weights, [0.6, 0.4], atol=1e-7)
    np.testing.assert_allclose(sol.pinv.delta_h, [0.1, -0.1], atol=1e-12)
    assert sol.targets[0].achieved_fraction == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(sol.predicted_change, [0.3], atol=1e-6)


def test_k2_tikhonov_formula_with_relative_regularization():
    # objective (a t - d)^2 + rho * 2 t^2 with a = 3, rho = reg * s_max^2, s_max = |a| / sqrt 2
    a, d, reg = 3.0, 0.3, 0.1
    rho = reg * a**2 / 2
    sol = solve_weights(np.array([[2.0, -1.0]]), None, np.array([0.5, 0.5]), NAMES2, ["x"],
                        [raise_target(1, 0, d)], [], regularization=reg)
    t = a * d / (a**2 + 2 * rho)
    np.testing.assert_allclose(sol.delta_h, [t, -t], atol=1e-8)
    assert sol.regularization_effective == pytest.approx(rho)
    assert sol.objective == pytest.approx((a * t - d) ** 2 + 2 * rho * t**2, rel=1e-6)


def _random_case(seed: int, m: int, k: int, n_t: int, step: float):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(m, k))
    t_mat = rng.normal(size=(n_t, m))
    d = rng.normal(size=n_t)
    d *= step / np.linalg.norm(d)
    return r, t_mat, d


def test_matches_numpy_minimum_norm_solution():
    r, t_mat, d = _random_case(0, m=4, k=5, n_t=3, step=0.02)
    targets = [LinearTarget(t_mat[i], "raise", amount=d[i], label=f"t{i}") for i in range(3)]
    h0 = np.full(5, 0.2)
    sol = solve_weights(r, None, h0, list("abcde"), list("wxyz"), targets, [],
                        regularization=1e-10)
    # independent reference: minimum-norm solution of [T R; 1^T] dh = [d; 0]
    system = np.vstack([t_mat @ r, np.ones((1, 5))])
    ref = np.linalg.lstsq(system, np.append(d, 0.0), rcond=None)[0]
    np.testing.assert_allclose(sol.pinv.delta_h, ref, atol=1e-12)
    np.testing.assert_allclose(sol.delta_h, ref, atol=1e-6)
    assert abs(sol.delta_h.sum()) < 1e-9
    np.testing.assert_allclose(t_mat @ r @ sol.delta_h, d, atol=1e-6)
    assert sol.pinv.nonnegative


def test_overdetermined_weighted_least_squares():
    r, t_mat, d = _random_case(1, m=6, k=3, n_t=5, step=0.05)
    w = np.array([1.0, 4.0, 0.5, 2.0, 1.0])
    targets = [LinearTarget(t_mat[i], "raise", amount=d[i], weight=w[i]) for i in range(5)]
    sol = solve_weights(r, None, np.array([0.3, 0.3, 0.4]), list("abc"), list("uvwxyz"),
                        targets, [], regularization=1e-10)
    q = null_space(np.ones((1, 3)))
    z = np.linalg.lstsq(np.sqrt(w)[:, None] * (t_mat @ r @ q), np.sqrt(w) * d, rcond=None)[0]
    np.testing.assert_allclose(sol.delta_h, q @ z, atol=1e-6)
    np.testing.assert_allclose(sol.pinv.delta_h, q @ z, atol=1e-12)
    assert sol.diagnostics.rank == 2


def test_invariant_to_units_of_the_observables():
    r, t_mat, d = _random_case(2, m=3, k=4, n_t=2, step=0.05)
    h0 = np.array([0.1, 0.2, 0.3, 0.4])

    def run(scale: float):
        targets = [LinearTarget(t_mat[i], "raise", amount=scale * d[i]) for i in range(2)]
        return solve_weights(scale * r, None, h0, list("abcd"), list("xyz"), targets, [])

    big, small = run(1.0), run(1e-5)
    np.testing.assert_allclose(small.delta_h, big.delta_h, atol=1e-7)
    assert small.regularization_effective == pytest.approx(1e-10 * big.regularization_effective)


def test_reach_lower_and_relative_targets():
    r = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    mu0 = np.array([0.30, 0.50])
    h0 = np.full(3, 1 / 3)
    reach = LinearTarget(unit(2, 0), "reach", value=0.35, label="reach x")
    sol = solve_weights(r, None, h0, list("abc"), ["x", "y"], [reach], [], mu0=mu0)
    assert sol.targets[0].desired == pytest.approx(0.05)
    assert sol.predicted_change[0] == pytest.approx(0.05, abs=1e-6)
    # "lower x relative to y" by 0.1: (x - y) moves by -0.1 = dh_a - dh_b
    rel = LinearTarget(np.array([1.0, -1.0]), "lower", amount=0.1, label="x rel y")
    sol = solve_weights(r, None, h0, list("abc"), ["x", "y"], [rel], [], regularization=1e-10)
    np.testing.assert_allclose(sol.delta_h, [-0.05, 0.05, 0.0], atol=1e-6)


def test_deterministic_and_json():
    r, t_mat, d = _random_case(3, m=3, k=4, n_t=2, step=0.05)
    targets = [LinearTarget(t_mat[i], "raise", amount=d[i], label=f"t{i}") for i in range(2)]
    args = (r, 0.1 * np.abs(r), np.full(4, 0.25), list("abcd"), list("xyz"), targets, [])
    one, two = solve_weights(*args), solve_weights(*args)
    np.testing.assert_array_equal(one.weights, two.weights)
    data = json.loads(json.dumps(one.to_dict()))
    assert set(data["weights"]) == set("abcd")
    assert set(data["predicted"]) == set("xyz")
    assert data["predicted"]["x"]["se"] > 0
    assert data["pinv"]["weights"]["a"] == pytest.approx(one.pinv.weights[0])

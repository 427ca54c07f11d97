"""Constraints that bind: simplex bounds, user bounds, holds, fixed components, KL / L2 trust
regions (analytic optima), and infeasible sets (the conflicting constraints are named)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import brentq
from .solvecases import bound, raise_target, unit

from patternlang.engine.solve import LinearTarget, require_feasible, solve_weights
from patternlang.errors import InfeasibleError, PatRuntimeError
from patternlang.plan.ir import ConstraintSpec

ABC = ["a", "b", "c"]
R_A = np.array([[1.0, 0.0, 0.0]])  # the observable moves with the weight of component a only


def test_simplex_bound_binds():
    # pinv: dh = (0.4, -0.2, -0.2) takes c to -0.1; with c >= 0 the least-norm exact fit is
    # dh = (0.4, -0.3, -0.1): h' = (0.6, 0.4, 0)
    h0 = np.array([0.2, 0.7, 0.1])
    sol = solve_weights(R_A, None, h0, ABC, ["x"], [raise_target(1, 0, 0.4)], [])
    np.testing.assert_allclose(sol.pinv.weights, [0.6, 0.5, -0.1], atol=1e-9)
    assert not sol.pinv.nonnegative
    np.testing.assert_allclose(sol.weights, [0.6, 0.4, 0.0], atol=1e-6)
    assert sol.diagnostics.bounds_active == ["c"]
    assert sol.targets[0].achieved_fraction == pytest.approx(1.0, abs=1e-5)


def test_user_bound_binds():
    # K = 2, dmu = dh_a - dh_b = 2t; raising by 0.6 wants t = 0.3 -> h' = (0.8, 0.2); a <= 0.7 stops it
    r = np.array([[1.0, -1.0]])
    cap = bound("a", "<=", 0.7, label="a at most 0.7")
    sol = solve_weights(r, None, np.array([0.5, 0.5]), ["a", "b"], ["x"],
                        [raise_target(1, 0, 0.6)], [cap])
    np.testing.assert_allclose(sol.weights, [0.7, 0.3], atol=1e-7)
    assert sol.diagnostics.active_constraints == ["a at most 0.7"]
    assert sol.targets[0].achieved_fraction == pytest.approx(0.4 / 0.6, abs=1e-6)
    assert any("a at most 0.7" in m for m in sol.diagnostics.messages)
    free = solve_weights(r, None, np.array([0.5, 0.5]), ["a", "b"], ["x"],
                         [raise_target(1, 0, 0.6)], [bound("a", "<=", 0.9)])
    np.testing.assert_allclose(free.weights, [0.8, 0.2], atol=1e-6)  # Tikhonov bias 3e-7
    assert free.diagnostics.active_constraints == []


def test_hold_keeps_a_coordinate_fixed():
    r = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    h0 = np.full(3, 1 / 3)
    up = raise_target(2, 0, 0.2, label="raise x")
    hold = LinearTarget(unit(2, 1), "hold", label="hold y")
    sol = solve_weights(r, None, h0, ABC, ["x", "y"], [up, hold], [])
    np.testing.assert_allclose(sol.delta_h, [0.2, 0.0, -0.2], atol=1e-6)
    assert sol.predicted_change[1] == pytest.approx(0.0, abs=1e-6)
    assert sol.targets[1].achieved_fraction is None and sol.targets[1].desired == 0.0
    # without the hold the minimum-norm step takes from b and c alike, moving y
    loose = solve_weights(r, None, h0, ABC, ["x", "y"], [up], [])
    np.testing.assert_allclose(loose.delta_h, [0.2, -0.1, -0.1], atol=1e-6)
    assert loose.predicted_change[1] == pytest.approx(-0.1, abs=1e-6)


def test_fixed_component():
    fix = ConstraintSpec(kind="fixed", components=["b"], label="keep b")
    sol = solve_weights(R_A, None, np.full(3, 1 / 3), ABC, ["x"], [raise_target(1, 0, 0.2)], [fix])
    np.testing.assert_allclose(sol.delta_h, [0.2, 0.0, -0.2], atol=1e-6)
    assert "keep b" in sol.diagnostics.active_constraints


def test_kl_trust_region_k2_binds_at_its_radius():
    rho = 0.02
    kl = ConstraintSpec(kind="kl", rhs=rho, label="KL step")
    sol = solve_weights(np.array([[1.0, -1.0]]), None, np.array([0.5, 0.5]), ["a", "b"], ["x"],
                        [raise_target(1, 0, 1.0)], [kl])
    p = brentq(lambda p: p * np.log(2 * p) + (1 - p) * np.log(2 * (1 - p)) - rho, 0.5, 1 - 1e-12)
    np.testing.assert_allclose(sol.weights, [p, 1 - p], atol=1e-6)
    assert sol.diagnostics.trust_region_binding == ["KL step"]
    assert any("trust region 'KL step' is binding" in m for m in sol.diagnostics.messages)


def test_kl_trust_region_k3_is_the_exponential_tilt():
    # the largest h'_a in a KL ball is the tilt h' ~ h0 * exp(lam * e_a) with KL(h'||h0) = rho
    h0, rho = np.array([0.2, 0.7, 0.1]), 0.01

    def tilt(lam: float) -> np.ndarray:
        x = h0 * np.exp(lam * np.array([1.0, 0.0, 0.0]))
        return x / x.sum()

    def kl(x: np.ndarray) -> float:
        return float(np.sum(x * np.log(x / h0)))

    lam = brentq(lambda t: kl(tilt(t)) - rho, 0.0, 10.0)
    sol = solve_weights(R_A, None, h0, ABC, ["x"], [raise_target(1, 0, 0.4)],
                        [ConstraintSpec(kind="kl", rhs=rho, label="kl")])
    np.testing.assert_allclose(sol.weights, tilt(lam), atol=2e-6)
    assert sol.diagnostics.trust_region_binding == ["kl"]


def test_l2_trust_region_binding_and_not():
    h0 = np.full(3, 1 / 3)
    l2 = ConstraintSpec(kind="l2", rhs=0.1, label="L2 step")
    sol = solve_weights(R_A, None, h0, ABC, ["x"], [raise_target(1, 0, 0.5)], [l2])
    # the steepest unit step for h_a on the sum-zero plane is (2, -1, -1) / sqrt 6
    np.testing.assert_allclose(sol.delta_h, 0.1 * np.array([2.0, -1.0, -1.0]) / np.sqrt(6),
                               atol=1e-6)
    assert sol.diagnostics.trust_region_binding == ["L2 step"]
    small = solve_weights(R_A, None, h0, ABC, ["x"], [raise_target(1, 0, 0.05)],
                          [ConstraintSpec(kind="l2", rhs=1.0, label="wide")])
    assert small.diagnostics.trust_region_binding == []
    assert small.targets[0].achieved_fraction == pytest.approx(1.0, abs=1e-5)


def test_infeasible_names_exactly_the_conflicting_pair():
    cons = [bound("a", ">=", 0.6, label="a >= 0.6"), bound("c", "<=", 0.5, label="c <= 0.5"),
            ConstraintSpec(kind="kl", rhs=5.0, label="loose KL"),
            bound("b", ">=", 0.6, label="b >= 0.6")]
    sol = solve_weights(R_A, None, np.full(3, 1 / 3), ABC, ["x"], [raise_target(1, 0, 0.1)], cons)
    assert sol.status == "infeasible" and sol.weights is None
    assert sol.diagnostics.conflicting == ["a >= 0.6", "b >= 0.6"]
    with pytest.raises(InfeasibleError) as err:
        require_feasible(sol, step="solve.main")
    text = str(err.value)
    assert "solve.main" in text and "'a >= 0.6'" in text and "'b >= 0.6'" in text
    assert "c <= 0.5" not in text and "loose KL" not in text
    assert sol.to_dict()["diagnostics"]["conflicting"] == ["a >= 0.6", "b >= 0.6"]


def test_infeasible_trust_region_against_bound_and_fixed():
    h0 = np.array([0.2, 0.7, 0.1])
    kl = ConstraintSpec(kind="kl", rhs=1e-3, label="tight KL")
    sol = solve_weights(R_A, None, h0, ABC, ["x"], [raise_target(1, 0, 0.1)],
                        [kl, bound("b", "<=", 0.9), bound("a", ">=", 0.6, label="")])
    assert sol.diagnostics.conflicting == ["tight KL", "1*h[a] >= 0.6"]
    fixed = ConstraintSpec(kind="fixed", components=["a"], label="")
    sol = solve_weights(R_A, None, h0, ABC, ["x"], [raise_target(1, 0, 0.1)],
                        [fixed, bound("a", ">=", 0.3, label="a >= 0.3")])
    assert sol.diagnostics.conflicting == ["fixed a", "a >= 0.3"]


def test_feasible_solution_passes_require_feasible():
    sol = solve_weights(R_A, None, np.full(3, 1 / 3), ABC, ["x"], [raise_target(1, 0, 0.1)], [])
    assert require_feasible(sol) is sol


def test_infeasible_without_conflicting_constraints_is_a_numerical_failure():
    # the solver said "infeasible" although no set of constraints conflicts: the error must not
    # print an empty list of constraints to relax, but name the numerical cause and a remedy
    sol = solve_weights(R_A, None, np.full(3, 1 / 3), ABC, ["x"], [raise_target(1, 0, 0.1)], [])
    broken = dataclasses.replace(sol, status="infeasible", weights=None)
    with pytest.raises(PatRuntimeError) as err:
        require_feasible(broken, step="solve.main")
    assert not isinstance(err.value, InfeasibleError)
    text = str(err.value)
    assert "numerical failure" in text and "draws" in text and "''" not in text

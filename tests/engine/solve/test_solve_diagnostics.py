"""Diagnostics: unreachable targets, the target spectrum, uncertainty propagation (against Monte
Carlo), and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from .solvecases import bound, raise_target, unit

from patternlang.engine.solve import LinearTarget, solve_weights
from patternlang.engine.solve.diagnostics import propagate_se
from patternlang.errors import PatRuntimeError

ABC = ["a", "b", "c"]


def test_zero_row_target_is_unreachable():
    r = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    targets = [raise_target(2, 0, 0.1, label="move x"), raise_target(2, 1, 0.1, label="move y")]
    sol = solve_weights(r, None, np.full(3, 1 / 3), ABC, ["x", "y"], targets, [])
    assert sol.status == "optimal"
    assert sol.diagnostics.unreachable == ["move y"]
    assert [t.unreachable for t in sol.targets] == [False, True]
    assert any("'move y': no data direction moves it" in m for m in sol.diagnostics.messages)
    # the reachable target is still met; the spectrum is that of (1,-1,0) on the sum-zero plane
    assert sol.targets[0].achieved_fraction == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(sol.diagnostics.singular_values, [np.sqrt(2), 0.0], atol=1e-12)
    assert sol.diagnostics.rank == 1


def test_unmovable_hold_is_not_a_failure():
    r = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    targets = [raise_target(2, 0, 0.1, label="x"), LinearTarget(unit(2, 1), "hold", label="keep y")]
    sol = solve_weights(r, None, np.full(3, 1 / 3), ABC, ["x", "y"], targets, [])
    assert sol.diagnostics.unreachable == [] and sol.targets[1].unreachable
    assert any("'keep y' (hold)" in m and "holds by itself" in m for m in sol.diagnostics.messages)


def test_uniform_row_is_unreachable_too():
    # an observable that moves equally with every weight cannot move: weights keep summing to one
    r = np.array([[2.0, 2.0, 2.0], [1.0, 0.0, 0.0]])
    targets = [raise_target(2, 0, 0.1, label="flat"), raise_target(2, 1, 0.1, label="x")]
    sol = solve_weights(r, None, np.full(3, 1 / 3), ABC, ["flat", "x"], targets, [])
    assert sol.diagnostics.unreachable == ["flat"]


def test_all_zero_response_everything_unreachable_and_no_step():
    sol = solve_weights(np.zeros((2, 3)), None, np.full(3, 1 / 3), ABC, ["x", "y"],
                        [raise_target(2, 0, 0.1, label="x")], [])
    assert sol.diagnostics.unreachable == ["x"]
    np.testing.assert_allclose(sol.delta_h, 0.0, atol=1e-7)


def test_conflicting_targets_are_reported_as_a_compromise():
    r = np.array([[1.0, -1.0, 0.0]])
    same = [raise_target(1, 0, 0.1, label="up"), LinearTarget(unit(1, 0), "lower", amount=0.1,
                                                              label="down")]
    sol = solve_weights(r, None, np.full(3, 1 / 3), ABC, ["x"], same, [])
    assert sol.diagnostics.rank == 1
    assert any("compromise" in m for m in sol.diagnostics.messages)
    np.testing.assert_allclose(sol.delta_h, 0.0, atol=1e-7)


def test_uncertainty_matches_monte_carlo():
    rng = np.random.default_rng(7)
    r = rng.normal(size=(3, 4))
    se = 0.2 * np.abs(rng.normal(size=(3, 4))) + 0.05
    targets = [raise_target(3, 0, 0.05, label="x"),
               LinearTarget(np.array([0.0, 1.0, -1.0]), "hold", label="y - z")]
    sol = solve_weights(r, se, np.full(4, 0.25), list("abcd"), list("xyz"), targets, [])
    dh = sol.delta_h
    draws = r + se * rng.normal(size=(40_000, 3, 4))
    changes = draws @ dh  # (draws, 3)
    np.testing.assert_allclose(changes.std(axis=0), sol.predicted_se, rtol=0.02)
    rel = changes[:, 1] - changes[:, 2]
    assert sol.targets[1].se == pytest.approx(rel.std(), rel=0.02)
    assert sol.targets[0].se == pytest.approx(sol.predicted_se[0], rel=1e-12)
    assert sol.pinv.predicted_se is not None


def test_propagate_se_closed_form():
    se = np.array([[1.0, 2.0], [0.5, 0.0]])
    dh = np.array([0.1, -0.1])
    np.testing.assert_allclose(propagate_se(np.eye(2), se, dh),
                               [np.sqrt(0.01 + 0.04), 0.05], atol=1e-15)


@pytest.mark.parametrize("case, fragment", [
    ("shape", "expected (1, 3)"),
    ("nan", "NaN"),
    ("weights", "not a mixture"),
    ("component", "'z'"),
    ("reach", "mu0"),
    ("coeffs", "coefficients"),
    ("one", "fewer than two"),
])
def test_bad_input_raises_clear_errors(case, fragment):
    r = np.array([[1.0, 0.0, 0.0]])
    h0 = np.full(3, 1 / 3)
    names, targets, cons = ABC, [raise_target(1, 0, 0.1)], []
    if case == "shape":
        r = np.ones((2, 3))
    elif case == "nan":
        r = np.array([[np.nan, 0.0, 0.0]])
    elif case == "weights":
        h0 = np.array([0.5, 0.6, -0.1])
    elif case == "component":
        cons = [bound("z", "<=", 0.5)]
    elif case == "reach":
        targets = [LinearTarget(np.ones(1), "reach", value=1.0, label="r")]
    elif case == "coeffs":
        targets = [LinearTarget(np.ones(2), "raise", amount=0.1, label="c")]
    elif case == "one":
        r, h0, names = np.ones((1, 1)), np.ones(1), ["a"]
    with pytest.raises(PatRuntimeError) as err:
        solve_weights(r, None, h0, names, ["x"], targets, cons, step="solve.s")
    assert fragment in str(err.value) and "solve.s" in str(err.value)

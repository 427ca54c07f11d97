"""Resolved or not, on the step the solver can take: closed forms, a null-calibration oracle, the
fixed-column trap of issue 22 and the hold rule."""

import numpy as np

from patternlang.engine.solve.resolved import (free_components, movable_basis, movable_z,
                                               target_resolution, unresolved_warnings)
from patternlang.plan.ir import ConstraintSpec


def test_two_free_components_give_the_z_of_their_difference():
    """Δh = t·(1, −1): the response is a1 − a2 with SE sqrt(se1² + se2²) (one degree of freedom)."""
    row, se = np.array([0.9, -0.3]), np.array([0.1, 0.3])
    z, dof = movable_z(row, se, np.array([True, True]))
    assert dof == 1 and np.isclose(z, 1.2 / np.sqrt(0.1))


def test_the_basis_is_orthonormal_sum_zero_and_supported_on_the_free_set():
    free = np.array([True, False, True, True])
    B = movable_basis(free)
    assert B.shape == (4, 2)
    assert np.allclose(B.T @ B, np.eye(2)) and np.allclose(B.sum(0), 0) and np.allclose(B[1], 0)


def test_a_row_resolved_only_in_a_fixed_column_is_not_resolved():
    """Issue 22's fresh problem: |z| 8.4 in a column whose weight is fixed, <= 0.54 elsewhere."""
    row = np.array([8.4, 0.5, -0.54, 0.3])
    se = np.ones(4)
    comps = ["memo", "add", "sub", "mul"]
    free = free_components(comps, np.array([0.0, 0.4, 0.3, 0.3]),
                           [ConstraintSpec(kind="fixed", components=["memo"])])
    assert list(free) == [False, True, True, True]
    (r,) = target_resolution([np.array([1.0])], ["lower loss(heldout)"], row[None], se[None], comps, free)
    assert not r.resolved and r.max_abs_z == 8.4 and r.movable_z < 1.5 and r.dof == 2
    (w,) = unresolved_warnings([r])
    assert "cannot move" in w and "movable-step |z|" in w


def test_a_zero_bounded_component_is_not_free():
    spec = ConstraintSpec(kind="linear", coeffs={"b": 1.0}, op="<=", rhs=0.0)
    assert list(free_components(["a", "b", "c"], np.array([0.5, 0.0, 0.5]), [spec])) == [True, False, True]
    assert list(free_components(["a", "b", "c"], np.array([0.4, 0.2, 0.4]), [spec])) == [True, True, True]


def test_a_response_common_to_every_component_is_cancelled_by_a_sum_zero_step():
    (r,) = target_resolution([np.array([1.0])], ["t"], np.array([[5.0, 5.0, 5.0]]),
                             np.array([[1.0, 1.0, 1.0]]), ["a", "b", "c"])
    assert r.max_abs_z == 5.0 and not r.resolved and r.movable_z < 1e-6


def test_under_the_null_the_rule_resolves_one_row_in_370_and_max_column_many_more():
    """Rows of pure noise over 5 free components: the Wald rule's false-resolution rate is the
    normal 3-sigma rate (0.27%); the old rule (any column |z| >= 3) was about 5x that."""
    rng = np.random.default_rng(0)
    se = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    n, wald, anycol = 20000, 0, 0
    free = np.ones(5, bool)
    for _ in range(n):
        row = rng.normal(0, se)
        wald += movable_z(row, se, free)[0] >= 3
        anycol += np.max(np.abs(row / se)) >= 3
    assert wald / n < 0.0027 * 1.6 and wald / n > 0.0027 / 1.6
    assert anycol / n > 3 * 0.0027


def test_a_combined_target_propagates_the_errors():
    """mean of two rows: row (0.5, 0.5)·R, SE sqrt(0.25·se1² + 0.25·se2²)."""
    R = np.array([[3.0, 0.0], [3.0, 0.0]])
    se = np.array([[1.0, 0.0], [1.0, 0.0]])
    (r,) = target_resolution([np.array([0.5, 0.5])], ["mean"], R, se, ["a", "b"])
    assert np.isclose(r.z["a"], 3.0 / np.sqrt(0.5)) and r.resolved
    assert np.isclose(r.movable_z, 3.0 / np.sqrt(0.5))


def test_a_hold_is_resolved_when_its_interval_fits_its_tolerance():
    R, se = np.array([[0.01, -0.01]]), np.array([[0.001, 0.001]])
    step = np.array([0.1, -0.1])  # predicted 0.002, SE sqrt(2)·1e-4
    (ok,) = target_resolution([np.array([1.0])], ["h"], R, se, ["a", "b"], kinds=["hold"],
                              delta_h=step, tolerances=[0.003])
    assert ok.resolved and np.isclose(ok.predicted, 0.002)
    (bad,) = target_resolution([np.array([1.0])], ["h"], R, se, ["a", "b"], kinds=["hold"],
                               delta_h=step, tolerances=[0.002])
    assert not bad.resolved and "tolerance" in unresolved_warnings([bad])[0]


def test_the_warning_says_how_many_more_draws():
    (r,) = target_resolution([np.array([1.0])], ["t"], np.array([[1.5, -1.5]]),
                             np.array([[1.0, 1.0]]) / np.sqrt(2) * np.sqrt(2), ["a", "b"])
    z = 3.0 / np.sqrt(2)  # |1.5 − (−1.5)| / sqrt(2)
    assert np.isclose(r.movable_z, z)
    assert f"{(3 / z) ** 2:.1f}x the draws" in unresolved_warnings([r])[0]


def test_with_replicates_the_test_is_hotelling_and_calibrated_under_the_null():
    """Rows from C = 6 correlated replicates (entries sharing each replicate's noise, as a coupled
    chain's columns do): Hotelling's T² keeps the 3-sigma false-resolution rate at any C, where
    the independent-entries Wald test, blind to the correlation, resolves noise far more often."""
    rng = np.random.default_rng(1)
    L = np.array([[1.0, 0.0, 0.0], [-0.9, 0.3, 0.0], [0.5, -0.6, 0.4]])  # strongly correlated columns
    free, n, C = np.ones(3, bool), 20000, 6
    hot, indep = 0, 0
    for _ in range(n):
        reps = rng.standard_normal((C, 3)) @ L.T
        row, se = reps.mean(0), reps.std(0, ddof=1) / np.sqrt(C)
        hot += movable_z(row, se, free, reps)[0] >= 3
        indep += movable_z(row, se, free)[0] >= 3
    assert hot / n < 0.0027 * 1.6 and hot / n > 0.0027 / 1.6
    assert indep / n > 4 * 0.0027


def test_hotelling_resolves_a_clear_signal():
    rng = np.random.default_rng(2)
    reps = np.array([1.0, -0.5, 0.0]) + 0.1 * rng.standard_normal((8, 3))
    z, dof = movable_z(reps.mean(0), reps.std(0, ddof=1) / np.sqrt(8), np.ones(3, bool), reps)
    assert dof == 2 and z > 4  # F(2, 5) tails: few replicates cap the z any signal can reach


def test_a_target_over_co_varying_coordinates_takes_its_se_from_the_replicates():
    """mean of two heads that move together within each chain: the independent formula gives
    se/√2 of one head, the replicates' spread the full se — the honest one."""
    from patternlang.engine.solve.resolved import prediction, target_response

    rng = np.random.default_rng(3)
    common = rng.standard_normal((8, 1, 2))  # per chain, shared by both heads: [C, heads, K]
    reps = np.concatenate([common, common], axis=1) + 0.01 * rng.standard_normal((8, 2, 2))
    response, se = reps.mean(0), reps.std(0, ddof=1) / np.sqrt(8)
    c = np.array([0.5, 0.5])
    row_reps = np.einsum("m,cmk->ck", c, reps)
    _, naive = target_response(c, response, se)
    _, honest = target_response(c, response, se, row_reps)
    np.testing.assert_allclose(honest, row_reps.std(0, ddof=1) / np.sqrt(8))
    assert np.all(honest > 1.3 * naive)
    _, p_naive = prediction(response[0], se[0], np.array([0.1, -0.1]))
    _, p_honest = prediction(response[0], se[0], np.array([0.1, -0.1]), reps[:, 0, :])
    assert p_honest >= p_naive

"""Resolved or not: z-scores of a target's response row and the warnings they raise."""

import numpy as np

from patternlang.engine.solve.resolved import target_resolution, unresolved_warnings


def test_a_row_with_one_large_z_is_resolved_and_a_noise_row_is_not():
    R = np.array([[0.9, -0.1], [0.2, -0.3]])
    se = np.array([[0.1, 0.1], [0.2, 0.2]])
    res = target_resolution([np.array([1.0, 0.0]), np.array([0.0, 1.0])], ["up", "noise"], R, se, ["a", "b"])
    assert res[0].resolved and res[0].z == {"a": 9.0, "b": -1.0}
    assert not res[1].resolved and np.isclose(res[1].max_abs_z, 1.5)
    warns = unresolved_warnings(res)
    assert len(warns) == 1 and "'noise'" in warns[0] and "1.5" in warns[0] and "more draws" in warns[0]


def test_a_combined_target_propagates_the_errors():
    """mean of two rows: row (0.5, 0.5)·R, SE sqrt(0.25·se1² + 0.25·se2²)."""
    R = np.array([[3.0], [3.0]])
    se = np.array([[1.0], [1.0]])
    (r,) = target_resolution([np.array([0.5, 0.5])], ["mean"], R, se, ["a"])
    assert np.isclose(r.z["a"], 3.0 / np.sqrt(0.5)) and r.resolved
    (zero,) = target_resolution([np.array([1.0, 0.0])], ["z"], R, np.zeros((2, 1)), ["a"])
    assert not zero.resolved and zero.z == {"a": None}


def test_the_warning_says_how_many_more_draws():
    (r,) = target_resolution([np.array([1.0])], ["t"], np.array([[1.5]]), np.array([[1.0]]), ["a"])
    assert "4.0x the draws" in unresolved_warnings([r])[0]  # (3 / 1.5)^2

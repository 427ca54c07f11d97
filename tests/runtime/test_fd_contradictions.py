"""A finite-difference check that contradicts a resolved χ entry is a warning, not only a table row."""

from patternlang.runtime.services.chi import fd_contradictions


def _row(chi, se, fd):
    return {"observable": "mean(ih)", "component": "repeats", "chi": chi, "chi_se": se, "fd": fd}


def test_resolved_rows_with_opposite_sign_or_far_ratio_warn():
    warns = fd_contradictions([_row(1.0, 0.2, -0.8), _row(1.0, 0.2, 3.0), _row(1.0, 0.2, 1.5)])
    assert len(warns) == 2
    assert "opposite sign" in warns[0] and "z = 5.0" in warns[0] and "mean(ih)" in warns[0]
    assert "outside [0.5, 2]" in warns[1] and "Remedy" in warns[1]


def test_unresolved_rows_do_not_warn():
    assert fd_contradictions([_row(1.0, 0.5, -5.0), _row(0.0, 0.0, 1.0)]) == []


def test_the_solution_gets_the_contradictions_of_rows_its_targets_use():
    from types import SimpleNamespace

    import numpy as np

    from patternlang.runtime.services.rows import fd_owner, fd_warnings

    assert [fd_owner(x) for x in ("mean(ih)", "ih[l1h0]", "loss(markov)")] == ["ih", "ih", "loss(markov)"]
    rows = SimpleNamespace(owner=[("s", "ih"), ("s", "loss(markov)")],
                           fd_rows=[("s", {**_row(1.0, 0.2, 0.3), "observable": "loss(markov)"}),
                                    ("s", {**_row(1.0, 0.2, -1.0), "observable": "mean(ih)"})])
    hold_loss = SimpleNamespace(coeffs=np.array([0.0, 1.0]))
    warns = fd_warnings(rows, [hold_loss])
    assert len(warns) == 1 and "loss(markov)" in warns[0]
    assert len(fd_warnings(rows, [hold_loss, SimpleNamespace(coeffs=np.array([1.0, 0.0]))])) == 2

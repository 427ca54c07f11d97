"""Patterning along a principal direction (``move along mode(...) by A``).

Checked against closed forms: the requested direction of a χ built from known singular vectors;
the unconstrained step is exactly ``A·e``; with a ``hold`` the step is ``A·e`` minus the
Sherman–Morrison share along the held response; under bounds, L2 and KL trust regions the step is
the feasible point closest to ``h0 + A·e``, found here by brute force on a fine grid of the simplex.
"""

from __future__ import annotations

import numpy as np
import pytest

from patternlang.engine.solve import LinearTarget, solve_weights
from patternlang.engine.solve.direction import angle_degrees, data_step, mode_direction
from patternlang.engine.solve.program import kl_divergence, sum_zero_basis
from patternlang.plan.ir import ConstraintSpec

COMPS = ["a", "b", "c"]
OBS = ["x", "y"]
H0 = np.array([0.5, 0.3, 0.2])


def _chi(h0: np.ndarray) -> np.ndarray:
    """A 2x3 χ with χ·h0 = 0 (columns are differences from the mixture, as estimated)."""
    chi = np.array([[2.0, -1.0, 0.5], [0.3, 1.5, -2.0]])
    return chi - np.outer(chi @ h0, np.ones(3))


def _move(e: np.ndarray, amount: float, weight: float = 1.0) -> LinearTarget:
    return LinearTarget(coeffs=np.zeros(len(OBS)), kind="move", amount=amount, weight=weight,
                        direction=e, label="move")


def test_direction_by_index_matches_svd_of_standardized_chi():
    chi = _chi(H0)
    sd_o, sd_c = np.array([0.5, 2.0]), np.array([1.0, 0.25, 4.0])
    mc = mode_direction(chi, sd_o, sd_c, H0, OBS, COMPS, index=0)
    X = chi / sd_o[:, None] / sd_c[None, :]
    u, s, vt = np.linalg.svd(X)
    sign = 1.0 if u[np.argmax(np.abs(u[:, 0])), 0] > 0 else -1.0
    want = sign * vt[0] / sd_c
    want = want - H0 * want.sum()
    np.testing.assert_allclose(mc.direction, want / np.linalg.norm(want), atol=1e-12)
    assert abs(mc.direction.sum()) < 1e-12 and mc.singular_value == pytest.approx(s[0])
    # its effect, in standardized observables, is along +structure[0] (largest loading positive)
    effect = (chi @ mc.direction) / sd_o
    cos = effect @ (sign * u[:, 0]) / np.linalg.norm(effect)
    assert cos == pytest.approx(1.0, abs=1e-12)


def test_direction_by_expression_picks_largest_gain_and_raises_it():
    chi = _chi(H0)
    sd_o, sd_c = np.ones(2), np.ones(3)
    for coeffs in (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, -1.0])):
        mc = mode_direction(chi, sd_o, sd_c, H0, OBS, COMPS, coeffs=coeffs)
        u, s, _ = np.linalg.svd(chi)
        gains = s * np.abs(u.T @ coeffs)
        assert mc.index == int(np.argmax(gains))
        assert coeffs @ chi @ mc.direction > 0  # a positive step raises the selecting expression


def test_unconstrained_step_is_exactly_the_requested_one():
    e = data_step(np.array([1.0, -2.0, 0.5]), np.ones(3), H0)
    sol = solve_weights(_chi(H0), None, H0, COMPS, OBS, [_move(e, 0.05)], [])
    np.testing.assert_allclose(sol.delta_h, 0.05 * e, atol=1e-7)
    t = sol.targets[0]
    assert t.angle_deg == pytest.approx(0.0, abs=1e-3)
    assert t.achieved_fraction == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(sol.pinv.delta_h, 0.05 * e, atol=1e-12)


def test_hold_removes_the_sherman_morrison_share():
    chi = _chi(H0)
    e = data_step(np.array([1.0, -2.0, 0.5]), np.ones(3), H0)
    hold = LinearTarget(coeffs=np.array([0.0, 1.0]), kind="hold", weight=3.0, label="hold y")
    sol = solve_weights(chi, None, H0, COMPS, OBS, [_move(e, 0.05), hold], [])
    q = sum_zero_basis(3)
    a = chi[1] @ q @ q.T
    u = a / np.linalg.norm(a)
    want = 0.05 * e - 3.0 / (1 + 3.0) * (u @ (0.05 * e)) * u
    np.testing.assert_allclose(sol.delta_h, want, atol=1e-6)  # (the 1e-6 relative ridge)
    assert sol.targets[0].angle_deg == pytest.approx(angle_degrees(want, e), abs=1e-3)


def _grid(step: float = 0.0025) -> np.ndarray:
    n = int(round(1 / step))
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = i + j <= n
    a, b = i[keep] * step, j[keep] * step
    return np.stack([a, b, 1 - a - b], axis=1)


CONSTRAINTS = {
    "bound": [ConstraintSpec(kind="linear", coeffs={"b": 1.0}, op=">=", rhs=0.28)],
    "l2": [ConstraintSpec(kind="l2", rhs=0.04)],
    "kl": [ConstraintSpec(kind="kl", rhs=0.004)],
    "kl+bound": [ConstraintSpec(kind="kl", rhs=0.01),
                 ConstraintSpec(kind="linear", coeffs={"a": 1.0, "c": 1.0}, op="<=", rhs=0.69)],
}


@pytest.mark.parametrize("name", CONSTRAINTS)
def test_constrained_step_is_the_closest_feasible_point(name):
    cons = CONSTRAINTS[name]
    e = data_step(np.array([1.0, -2.0, 0.5]), np.ones(3), H0)
    want = H0 + 0.1 * e
    sol = solve_weights(_chi(H0), None, H0, COMPS, OBS, [_move(e, 0.1)], cons)
    g = _grid()
    ok = np.ones(len(g), bool)
    for c in cons:
        if c.kind == "l2":
            ok &= np.linalg.norm(g - H0, axis=1) <= c.rhs
        elif c.kind == "kl":
            ok &= np.array([kl_divergence(x, H0) for x in g]) <= c.rhs
        else:
            coeff = np.array([c.coeffs.get(k, 0.0) for k in COMPS])
            ok &= (g @ coeff >= c.rhs) if c.op == ">=" else (g @ coeff <= c.rhs)
    best = g[ok][np.argmin(np.linalg.norm(g[ok] - want, axis=1))]
    assert np.linalg.norm(sol.weights - want) <= np.linalg.norm(best - want) + 1e-6
    np.testing.assert_allclose(sol.weights, best, atol=0.006)  # grid spacing 0.0025
    if name == "l2":  # the closest point of a ball around h0 lies on the ray h0 + t·e
        assert sol.targets[0].angle_deg == pytest.approx(0.0, abs=1e-3)
        assert sol.targets[0].predicted == pytest.approx(0.04, rel=1e-4)
    else:
        assert sol.targets[0].angle_deg > 0.1

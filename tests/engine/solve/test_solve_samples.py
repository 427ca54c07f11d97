"""Per-sample patterning solvers: the KL dual against cvxpy and against the closed form of a single
target (the solution is an exponential tilt of the baseline along the target's response), the
infeasible case, constraints in component terms, and the arms of its verification."""

from __future__ import annotations

import numpy as np
import pytest

from patternlang.engine.solve.samples import (AtomProblem, atom_constraints, solve_cvxpy,
                                              solve_kl_dual)
from patternlang.plan.ir import ConstraintSpec
from patternlang.runtime.services.mixtures import atom_arm

N = 400


def _problem(kl: float, bound: float | None = 0.52, seed: int = 1) -> AtomProblem:
    rng = np.random.default_rng(seed)
    comps = np.array(["x"] * (N // 2) + ["y"] * (N // 2))
    p0 = np.full(N, 1.0 / N)
    a = rng.standard_normal((3, N)) * 1e-2
    d = np.array([0.5, 0.0, -0.2]) * 1e-2
    rows = (comps == "x").astype(float)[None, :] if bound is not None else np.zeros((0, N))
    ops, rhs = ([">="], np.array([bound])) if bound is not None else ([], np.zeros(0))
    return AtomProblem(a, d, np.array([1.0, 1.0, 0.5]), p0, rows, ops, rhs, ("kl", kl))


@pytest.mark.parametrize("kl", [0.002, 0.01])
def test_dual_matches_cvxpy_when_the_trust_region_binds(kl):
    pr = _problem(kl)
    dual, ref = solve_kl_dual(pr), solve_cvxpy(pr)
    assert dual.status == "optimal" and ref.status == "optimal"
    assert dual.kl == pytest.approx(kl, rel=1e-5)
    np.testing.assert_allclose(dual.p, ref.p, atol=1e-4 / N)  # 0.01% of a baseline weight
    assert pr.b_rows[0] @ dual.p >= 0.52 - 1e-9


def test_single_target_is_an_exponential_tilt_along_its_response():
    # one target, no linear constraint: p = p0 exp(-t a) / Z with KL(p || p0) = r (closed form)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1, N)) * 1e-2
    p0 = rng.uniform(0.5, 1.5, N)
    p0 /= p0.sum()
    pr = AtomProblem(a, np.array([1.0]), np.array([1.0]), p0, np.zeros((0, N)), [], np.zeros(0),
                     ("kl", 0.02))
    sol = solve_kl_dual(pr)
    log_ratio = np.log(sol.p / p0)
    slope, icpt = np.polyfit(a[0], log_ratio, 1)
    np.testing.assert_allclose(log_ratio, slope * a[0] + icpt, atol=1e-9)
    assert slope > 0 and sol.kl == pytest.approx(0.02, rel=1e-6)  # raising: more of what moves it


def test_unreachable_trust_region_is_infeasible_with_its_floor():
    pr = _problem(1e-4, bound=0.52)  # moving 2% of mass between the halves costs KL 8.0e-4
    sol = solve_kl_dual(pr)
    assert sol.status == "infeasible" and sol.p is None
    assert sol.kl == pytest.approx(0.52 * np.log(1.04) + 0.48 * np.log(0.96), rel=1e-3)
    assert "8e-04" in sol.messages[0] or "0.0008" in sol.messages[0]


def test_l2_trust_region_through_cvxpy():
    pr = _problem(0.0)
    pr.trust = ("l2", 0.002)
    sol = solve_cvxpy(pr)
    assert sol.status in ("optimal", "optimal_inaccurate")
    assert sol.l2 == pytest.approx(0.002, rel=1e-3)


def test_component_constraints_become_atom_rows():
    comps = ["spans", "code", "code", "code"]
    p0 = np.array([0.4, 0.2, 0.2, 0.2])
    rows, ops, rhs, trust = atom_constraints(
        [ConstraintSpec(kind="linear", coeffs={"code": 1.0}, op=">=", rhs=0.5),
         ConstraintSpec(kind="fixed", components=["spans"]), ConstraintSpec(kind="kl", rhs=0.1)],
        comps, p0, "solve.t")
    np.testing.assert_array_equal(rows, [[0, 1, 1, 1], [1, 0, 0, 0]])
    assert ops == [">=", "=="] and list(rhs) == [0.5, 0.4] and trust == ("kl", 0.1)


def _kl(p, q):
    return float(np.sum(p * np.log(p / q)))


def test_atom_arms():
    rng = np.random.default_rng(0)
    p0 = np.full(50, 0.02)
    p1 = p0 * np.exp(0.3 * rng.standard_normal(50))
    p1 /= p1.sum()
    pooled = np.arange(50) >= 2
    for arm in ("control", "orthogonal"):
        p = atom_arm(arm, p0, p1, seed=7, pooled=pooled)
        assert p.sum() == pytest.approx(1.0) and _kl(p, p0) == pytest.approx(_kl(p1, p0), rel=1e-6)
    ortho = np.log(atom_arm("orthogonal", p0, p1, 7, pooled) / p0)
    ell = np.log(p1 / p0)
    centred = lambda v: v - p0 @ v  # noqa: E731
    assert abs(p0 @ (centred(ortho) * centred(ell))) < 1e-10
    opp = atom_arm("opposite", p0, p1, 7)
    np.testing.assert_allclose(centred(np.log(opp / p0)), -centred(ell), atol=1e-12)
    np.testing.assert_array_equal(atom_arm("baseline", p0, p1, 7), p0)

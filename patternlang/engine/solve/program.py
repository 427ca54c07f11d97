"""The convex program of the inverse solve, written with cvxpy.

The variable is the new mixture ``h'`` (one weight per component). The simplex (``h' >= 0``,
``sum h' = 1``) is always imposed; each user :class:`~patternlang.plan.ir.ConstraintSpec` becomes a
*group* of cvxpy constraints carrying the spec's label, so diagnostics can name it (which group is
active at the optimum, which groups conflict when the program is infeasible).

Solvers: CLARABEL (interior point; handles the quadratic objective, second-order cones for the L2
trust region and exponential cones for the KL trust region) with SCS as fallback. Both ship with
cvxpy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import cvxpy as cp
import numpy as np

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import ConstraintSpec

#: (solver, options) tried in order by :func:`run_problem`
ATTEMPTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("CLARABEL", {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12,
                  "tol_ktratio": 1e-10, "max_iter": 400}),
    ("CLARABEL", {}),
    ("SCS", {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}),
)


@dataclass
class Group:
    """The cvxpy constraints that one user constraint compiles to.

    ``value(h)`` evaluates the constraint's left-hand side at a numeric ``h'`` and ``slack(h)`` how
    far inside the feasible side that is (``>= 0`` feasible, ``~0`` active)."""

    label: str
    kind: str
    constraints: list[cp.Constraint]
    value: Callable[[np.ndarray], float]
    slack: Callable[[np.ndarray], float]
    rhs: float


def default_label(spec: ConstraintSpec) -> str:
    """A readable label for a constraint the spec did not name."""
    if spec.kind == "linear":
        terms = " + ".join(f"{c:g}*h[{k}]" for k, c in spec.coeffs.items()) or "0"
        return f"{terms} {spec.op} {spec.rhs:g}"
    if spec.kind == "fixed":
        return "fixed " + ", ".join(spec.components)
    if spec.kind == "kl":
        return f"KL(h'||h) <= {spec.rhs:g}"
    return f"||h' - h||_2 <= {spec.rhs:g}"


def _component_index(name: str, index: dict[str, int], label: str, step: str) -> int:
    if name not in index:
        raise PatRuntimeError(
            step=step,
            cause=f"constraint '{label}' names component '{name}', which the mixture does not have",
            remedy=f"use one of the mixture's components: {', '.join(index)}",
        )
    return index[name]


def _linear_group(h: cp.Expression, spec: ConstraintSpec, label: str,
                  index: dict[str, int], step: str) -> Group:
    c = np.zeros(len(index))
    for name, coeff in spec.coeffs.items():
        c[_component_index(name, index, label, step)] += coeff
    lhs = c @ h
    con = {"<=": lhs <= spec.rhs, ">=": lhs >= spec.rhs, "==": lhs == spec.rhs}[spec.op]
    rhs = spec.rhs

    def slack(x: np.ndarray) -> float:
        v = float(c @ x)
        return {"<=": rhs - v, ">=": v - rhs, "==": -abs(v - rhs)}[spec.op]

    return Group(label, "linear", [con], lambda x: float(c @ x), slack, rhs)


def _fixed_group(h: cp.Expression, h0: np.ndarray, spec: ConstraintSpec, label: str,
                 index: dict[str, int], step: str) -> Group:
    idx = [_component_index(n, index, label, step) for n in spec.components]
    cons = [h[i] == h0[i] for i in idx]

    def dev(x: np.ndarray) -> float:
        return float(np.max(np.abs(x[idx] - h0[idx]))) if idx else 0.0

    return Group(label, "fixed", cons, dev, lambda x: -dev(x), 0.0)


def kl_divergence(x: np.ndarray, h0: np.ndarray) -> float:
    """KL(x || h0) = sum x log(x / h0) with 0 log 0 = 0 (inf where x > 0 = h0)."""
    x = np.clip(x, 0.0, None)
    pos = x > 0
    if np.any(pos & (h0 <= 0)):
        return float("inf")
    return float(np.sum(x[pos] * np.log(x[pos] / h0[pos])))


def _kl_group(h: cp.Expression, h0: np.ndarray, spec: ConstraintSpec, label: str) -> Group:
    """KL(h'||h0) <= rhs. Components with h0 = 0 must stay at 0 (the divergence is infinite
    otherwise); on the support the divergence is ``sum rel_entr(h', h0)`` (an exponential cone)."""
    supp = np.flatnonzero(h0 > 0)
    off = np.flatnonzero(h0 <= 0)
    cons = [cp.sum(cp.rel_entr(h[supp], h0[supp])) <= spec.rhs]
    cons += [h[i] == 0 for i in off]
    rhs = spec.rhs
    return Group(label, "kl", cons, lambda x: kl_divergence(x, h0),
                 lambda x: rhs - kl_divergence(x, h0), rhs)


def _l2_group(h: cp.Expression, h0: np.ndarray, spec: ConstraintSpec, label: str) -> Group:
    rhs = spec.rhs
    def norm(x: np.ndarray) -> float:
        return float(np.linalg.norm(x - h0))

    return Group(label, "l2", [cp.norm(h - h0, 2) <= rhs], norm, lambda x: rhs - norm(x), rhs)


def build_groups(h: cp.Expression, h0: np.ndarray, specs: list[ConstraintSpec],
                 comp_names: list[str], step: str) -> list[Group]:
    """Compile every user constraint to a labelled :class:`Group` (labels made unique)."""
    index = {n: i for i, n in enumerate(comp_names)}
    groups: list[Group] = []
    seen: dict[str, int] = {}
    for spec in specs:
        label = spec.label or default_label(spec)
        if label in seen:
            seen[label] += 1
            label = f"{label} (#{seen[label]})"
        else:
            seen[label] = 1
        if spec.kind == "linear":
            groups.append(_linear_group(h, spec, label, index, step))
        elif spec.kind == "fixed":
            groups.append(_fixed_group(h, h0, spec, label, index, step))
        elif spec.kind == "kl":
            groups.append(_kl_group(h, h0, spec, label))
        else:
            groups.append(_l2_group(h, h0, spec, label))
    return groups


def sum_zero_basis(k: int) -> np.ndarray:
    """An orthonormal basis ``Q`` (``k x (k-1)``) of ``{x in R^k : sum x = 0}``, the directions a
    mixture can move in. Built from the SVD of the centering matrix ``I - 11^T/k``."""
    if k <= 1:
        return np.zeros((k, 0))
    centering = np.eye(k) - np.full((k, k), 1.0 / k)
    u, _, _ = np.linalg.svd(centering)
    return u[:, : k - 1]


@dataclass
class Preconditioned:
    """The objective in whitened coordinates: ``dh = step_map @ y`` and
    ``||a dh - d||^2 + rho ||dh||^2 = ||y - c||^2 + const`` for ``dh`` on the sum-zero subspace."""

    y: cp.Variable
    h: cp.Expression
    objective: cp.Expression
    step_map: np.ndarray


def preconditioned(h0: np.ndarray, a: np.ndarray, d: np.ndarray, rho: float) -> Preconditioned:
    """Write the least-squares objective so that its Hessian is the identity.

    With ``a Q = U S V^T`` (``Q`` from :func:`sum_zero_basis`) and ``dh = Q V diag(1/D) y``,
    ``D_i = sqrt(s_i^2 + rho)``, the objective is ``sum_i (y_i - s_i (U^T d)_i / D_i)^2`` plus a
    constant. In the raw variable its curvature ranges from ``s_max^2`` down to ``rho`` (``1e-6``
    relative by default), and an interior-point solver stops long before the tiny ``rho`` term has
    chosen the minimum-norm solution among equally good fits; whitened, every direction is equally
    determined and only the constraints carry the scale. ``rho`` must be > 0. ``a`` must be scaled
    to largest singular value 1 (then every mixture step has ``||a dh|| <= sqrt 2``)."""
    k = len(h0)
    q = sum_zero_basis(k)
    s = np.zeros(k - 1)
    ud = np.zeros(k - 1)
    if a.shape[0]:
        u, sv, vt = np.linalg.svd(a @ q, full_matrices=True)
        s[: sv.size] = sv
        proj = u.T @ d
        ud[: min(k - 1, proj.size)] = proj[: k - 1]
    else:
        vt = np.eye(k - 1)
    dd = np.sqrt(s**2 + rho)
    c = s * ud / dd
    # scale y by the size of the wanted step, or by the largest step the simplex allows (O(1) in
    # these units) when the target lies beyond it: the optimal y is then O(1) either way
    unit = min(float(np.linalg.norm(c)), 1.0) or 1.0
    step_map = (q @ vt.T / dd) * unit
    y = cp.Variable(k - 1)
    return Preconditioned(y, h0 + step_map @ y, cp.sum_squares(y - c / unit), step_map)


def simplex(h: cp.Expression, sum_free: bool = False) -> list[cp.Constraint]:
    """``h' >= 0`` and ``sum h' = 1``; ``sum_free``: ``h`` sums to one by construction (a
    :class:`Preconditioned` ``h``), so only ``h' >= 0`` is added."""
    return [h >= 0] if sum_free else [h >= 0, cp.sum(h) == 1]


def run_problem(problem: cp.Problem) -> tuple[str, str]:
    """Solve, trying :data:`ATTEMPTS` in order until one is conclusive.

    Tight tolerances come first: the regularization term that picks the minimum-norm solution among
    equally good fits is tiny, and at default tolerances the solver stops before it has any
    effect. Exponential cones (KL) sometimes end *inaccurate* at tight tolerances; then the default
    tolerances, then SCS, are tried. Returns ``(status, solver)`` with status one of ``optimal``,
    ``optimal_inaccurate``, ``infeasible``, ``solver_error``; the variables hold that attempt's
    values."""
    fallback: tuple[str, dict[str, Any]] | None = None
    fallback_status = "solver_error"
    for name, opts in ATTEMPTS:
        if name not in cp.installed_solvers():
            continue
        try:
            with warnings.catch_warnings():  # an inaccurate attempt warns; we report it instead
                warnings.simplefilter("ignore")
                problem.solve(solver=name, **opts)
        except cp.SolverError:
            continue
        status = problem.status
        if status == cp.OPTIMAL:
            return "optimal", name
        if status == cp.INFEASIBLE:
            return "infeasible", name
        if status in (cp.OPTIMAL_INACCURATE, cp.INFEASIBLE_INACCURATE) and fallback is None:
            fallback = (name, opts)
            fallback_status = "optimal_inaccurate" if status == cp.OPTIMAL_INACCURATE \
                else "infeasible"
    if fallback is None:
        return "solver_error", "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problem.solve(solver=fallback[0], **fallback[1])
    return fallback_status, fallback[0]


def is_feasible(h0: np.ndarray, specs: list[ConstraintSpec], comp_names: list[str],
                keep: list[int], step: str) -> bool:
    """Whether the simplex plus the user constraints ``specs[i]`` for ``i in keep`` admit any ``h'``
    (a pure feasibility program: minimize 0)."""
    h = cp.Variable(len(h0))
    cons = simplex(h)
    groups = build_groups(h, h0, specs, comp_names, step)  # (a Variable: the sum is imposed)
    for i in keep:
        cons += groups[i].constraints
    status, _ = run_problem(cp.Problem(cp.Minimize(0), cons))
    return status in ("optimal", "optimal_inaccurate")

"""The inverse problem of patterning: choose new mixture weights from the linear response.

Linear response says the posterior expectations of the observable coordinates move by
``dmu ~= R @ dh`` when the mixture moves from ``h0`` to ``h' = h0 + dh``, with ``R = nbeta * chi``
(rows: observable coordinates, columns: data components). Targets are linear functionals
``T[t] @ mu`` with desired changes ``d[t]``; :func:`solve_weights` solves the convex program

    minimize    sum_t w_t (T[t] @ R @ dh - d_t)^2 + rho * ||dh||^2
    subject to  h' >= 0, sum h' = 1, and the user constraints
                (linear, fixed components, KL(h'||h0) <= r, ||h' - h0||_2 <= r)

and reports, beside the new weights, the predicted change of every observable coordinate with its
standard error, the pseudo-inverse solution of the paper (``chi^+ dmu* / nbeta``), and diagnostics
saying why a target is missed (see ``docs/solver.md``).

``rho`` is *relative*: ``rho = regularization * s_max^2`` with ``s_max`` the largest singular value
of the weighted target response on the sum-zero subspace, so the solution does not depend on the
units of the observables (posterior changes can be 1e-4 of training-time ones).

Infeasibility is a status, not an exception: :func:`solve_weights` returns a :class:`Solution` with
``status == "infeasible"`` and the conflicting constraints named; :func:`require_feasible` turns a
failed solution into an :class:`~patternlang.errors.InfeasibleError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cvxpy as cp
import numpy as np

from patternlang.engine.solve import diagnostics as diag
from patternlang.engine.solve.direction import angle_degrees, step_system
from patternlang.engine.solve.program import (build_groups, preconditioned, run_problem, simplex,
                                              sum_zero_basis)
from patternlang.engine.solve.types import (LinearTarget, PinvSolution, Solution,
                                            SolveDiagnostics, TargetOutcome)
from patternlang.errors import InfeasibleError, PatRuntimeError
from patternlang.plan.ir import ConstraintSpec

#: ``regularization = 0`` is replaced by this (relative) value: the minimum-norm limit
MIN_REGULARIZATION = 1e-12

__all__ = ["LinearTarget", "Solution", "desired_changes", "require_feasible", "solve_weights"]


def solve_weights(response: np.ndarray, response_se: np.ndarray | None, h0: np.ndarray,
                  comp_names: list[str], obs_names: list[str], targets: list[LinearTarget],
                  constraints: list[ConstraintSpec], regularization: float = 1e-6,
                  mu0: np.ndarray | None = None, step: str = "solve") -> Solution:
    """Solve the constrained inverse problem (module docstring) for new mixture weights.

    Args:
        response: ``R = nbeta * chi``, shape ``(M, K)``: observable coordinates x components.
        response_se: standard errors of ``R`` (same shape), or ``None`` (no uncertainty reported).
        h0: current mixture weights (``K``, non-negative, summing to one).
        comp_names, obs_names: names of the columns and rows of ``R``.
        targets: linear targets on the rows of ``R``.
        constraints: user constraints on ``h'`` (the simplex is always added).
        regularization: Tikhonov strength relative to the target response's largest squared
            singular value.
        mu0: current values of the observable coordinates (needed by ``reach`` targets).
        step: plan step id, used in error messages.

    Returns a :class:`Solution`; check ``status`` or call :func:`require_feasible`.
    """
    r, se, h0 = _validate(response, response_se, h0, comp_names, obs_names, regularization, step)
    t_mat = _target_matrix(targets, len(obs_names), step)
    d0 = desired_changes(targets, mu0, step)
    w0 = np.array([t.weight for t in targets], dtype=float)
    a0 = t_mat @ r  # target response: targets x components
    moving = any(t.kind == "move" for t in targets)
    a, d, w = (a0, d0, w0) if not moving else step_system(
        a0, d0, w0, [t.kind for t in targets], [t.direction for t in targets], d0,
        sum_zero_basis(len(h0)))

    # relative regularization (0 means the minimum-norm limit, kept strictly convex)
    rel = max(regularization, MIN_REGULARIZATION)
    scale = _target_scale(a, w, len(h0))
    pre = preconditioned(h0, np.sqrt(w)[:, None] * a / scale, np.sqrt(w) * d / scale, rel)
    groups = build_groups(pre.h, h0, constraints, comp_names, step)
    cons = simplex(pre.h, sum_free=True) + [c for g in groups for c in g.constraints]
    status, solver = run_problem(cp.Problem(cp.Minimize(pre.objective), cons))

    unreach = diag.unreachable_targets(a0, diag.response_scale(r))
    unreach &= np.array([t.kind != "move" for t in targets], dtype=bool)
    dgn = _spectrum_diagnostics(diag.target_spectrum(np.sqrt(w)[:, None] * a), unreach, targets)
    pinv = _pinv_solution(a, d, w, r, se, h0)
    common: dict[str, Any] = dict(step=step, comp_names=list(comp_names), obs_names=list(obs_names), h0=h0,
                  pinv=pinv, diagnostics=dgn, regularization=regularization,
                  regularization_effective=rel * scale**2, solver="cvxpy/" + solver)

    if status in ("infeasible", "solver_error"):
        if status == "infeasible":
            labels = [g.label for g in groups]
            dgn.conflicting = diag.conflicting_constraints(h0, constraints, labels, comp_names, step)
            dgn.messages.insert(0, _infeasible_message(dgn.conflicting))
        else:
            dgn.messages.insert(0, "the convex solvers (CLARABEL, SCS) failed to converge")
        outcomes = _outcomes(targets, t_mat, r, None, None, d0, pinv.delta_h, unreach)
        return Solution(status=status, weights=None, delta_h=None, predicted_change=None,
                        predicted_se=None, targets=outcomes, objective=None, **common)

    hv = np.clip(h0 + pre.step_map @ pre.y.value, 0.0, None)
    hv = hv / hv.sum()
    dh = hv - h0
    dgn.active_constraints, dgn.trust_region_binding = diag.active_groups(groups, hv)
    dgn.bounds_active = diag.bounds_active(hv, comp_names)
    outcomes = _outcomes(targets, t_mat, r, se, dh, d0, pinv.delta_h, unreach)
    dgn.messages += _activity_messages(dgn, outcomes)
    if status == "optimal_inaccurate":
        dgn.messages.insert(0, "the solver reached only reduced accuracy; treat digits with care")
    objective = float(np.sum(w * (a @ dh - d) ** 2) + rel * scale**2 * np.sum(dh**2))
    pred_se = None if se is None else diag.propagate_se(np.eye(len(obs_names)), se, dh)
    return Solution(status=status, weights=hv, delta_h=dh, predicted_change=r @ dh,
                    predicted_se=pred_se, targets=outcomes, objective=objective, **common)


def require_feasible(solution: Solution, step: str | None = None) -> Solution:
    """Return ``solution`` if it has weights; otherwise raise :class:`InfeasibleError` naming the
    conflicting constraints (or :class:`PatRuntimeError` when the solver itself failed)."""
    step = step or solution.step
    if solution.status == "infeasible" and not solution.diagnostics.conflicting:
        raise PatRuntimeError(
            step=step, cause="the convex solver reported the program infeasible, but the "
            "constraints alone are satisfiable together: a numerical failure, usually from "
            "response entries (nbeta x chi) of very different scales",
            remedy="resolve chi better (more draws or chains, `draws = auto(...)`), standardize "
                   "the targets' observables, or loosen the regularization",
            details=solution.to_dict(),
        )
    if solution.status == "infeasible":
        names = ", ".join(f"'{c}'" for c in solution.diagnostics.conflicting)
        raise InfeasibleError(
            step=step,
            cause=f"no mixture satisfies the constraints together: {names} conflict",
            remedy="relax or remove one of " + names + " (each alone is compatible with the rest)",
            details=solution.to_dict(),
        )
    if not solution.ok:
        raise PatRuntimeError(
            step=step, cause="the convex solver failed to converge on the inverse problem",
            remedy="check chi for huge or tiny entries, loosen the regularization or the constraints",
            details=solution.to_dict(),
        )
    return solution


def desired_changes(targets: list[LinearTarget], mu0: np.ndarray | None, step: str) -> np.ndarray:
    """The desired change ``d_t`` of each target functional (see :class:`LinearTarget`)."""
    out = np.zeros(len(targets))
    for i, t in enumerate(targets):
        if t.kind in ("raise", "lower"):
            if t.amount is None:
                raise PatRuntimeError(step, f"target '{t.label}' ({t.kind}) has no amount",
                                      f"write '{t.kind} ... by AMOUNT'")
            out[i] = t.amount if t.kind == "raise" else -t.amount
        elif t.kind == "reach":
            if t.value is None or mu0 is None:
                raise PatRuntimeError(step, f"target '{t.label}' (reach) needs the value to reach "
                                      "and the current observable values mu0",
                                      "pass mu0 (observed at the checkpoint) and 'reach VALUE'")
            out[i] = t.value - float(np.asarray(t.coeffs, dtype=float) @ np.asarray(mu0, float))
        elif t.kind == "move":
            if t.amount is None or t.direction is None:
                raise PatRuntimeError(step, f"target '{t.label}' (move) needs a step length and a "
                                      "direction", "write 'move along mode(...) by AMOUNT'")
            out[i] = t.amount
        elif t.kind != "hold":
            raise PatRuntimeError(step, f"target '{t.label}' has unknown kind '{t.kind}'",
                                  "use raise, lower, reach, hold or move")
    return out


# ------------------------------------------------------------------------------------------------


def _validate(response: Any, response_se: Any, h0: Any, comp_names: Sequence[str], obs_names: Sequence[str],
              regularization: float, step: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    r = np.asarray(response, dtype=float)
    h = np.asarray(h0, dtype=float)

    def bad(cause: str, remedy: str) -> PatRuntimeError:
        return PatRuntimeError(step, cause, remedy)

    if r.ndim != 2 or r.shape != (len(obs_names), len(comp_names)):
        raise bad(f"response has shape {r.shape}, expected ({len(obs_names)}, {len(comp_names)}) "
                  "(observable coordinates x components)", "pass nbeta * chi with named rows/columns")
    if not np.all(np.isfinite(r)):
        raise bad("the response nbeta*chi contains NaN or inf", "re-run sampling: a chain diverged "
                  "or an observable is undefined; lower the SGLD step or raise gamma")
    if len(comp_names) < 2:
        raise bad("the mixture has fewer than two components, so there is nothing to reweight",
                  "declare at least two data components")
    if h.shape != (len(comp_names),) or np.any(h < 0) or abs(h.sum() - 1) > 1e-6:
        raise bad(f"current weights {h.tolist()} are not a mixture over {len(comp_names)} components",
                  "give non-negative weights summing to one, one per component")
    if not np.isfinite(regularization) or regularization < 0:
        raise bad(f"regularization {regularization} must be finite and >= 0", "use e.g. 1e-6")
    se = None
    if response_se is not None:
        se = np.asarray(response_se, dtype=float)
        if se.shape != r.shape or np.any(~np.isfinite(se)) or np.any(se < 0):
            raise bad("response standard errors must be finite, >= 0 and shaped like the response",
                      "pass nbeta * chi_se")
    return r, se, h / h.sum()


def _target_matrix(targets: list[LinearTarget], m: int, step: str) -> np.ndarray:
    rows = []
    for t in targets:
        c = np.asarray(t.coeffs, dtype=float)
        if c.shape != (m,) or not np.all(np.isfinite(c)):
            raise PatRuntimeError(step, f"target '{t.label}' has coefficients of shape {c.shape}, "
                                  f"expected ({m},)", "one coefficient per observable coordinate")
        if not np.isfinite(t.weight) or t.weight < 0:
            raise PatRuntimeError(step, f"target '{t.label}' has weight {t.weight}",
                                  "use a finite weight >= 0")
        rows.append(c)
    return np.array(rows).reshape(len(targets), m)


def _target_scale(a: np.ndarray, w: np.ndarray, k: int) -> float:
    """Largest singular value of the weighted target response on the sum-zero subspace (1 if the
    targets do not respond at all): the unit the program and the regularization are measured in."""
    if a.shape[0] == 0:
        return 1.0
    s_max = float(np.linalg.norm(np.sqrt(w)[:, None] * (a @ sum_zero_basis(k)), 2))
    return s_max if s_max > 0 else 1.0


def _pinv_solution(a: np.ndarray, d: np.ndarray, w: np.ndarray, r: np.ndarray, se: np.ndarray | None,
                   h0: np.ndarray) -> PinvSolution:
    dh = diag.pinv_step(a, d, w)
    pred_se = None if se is None else diag.propagate_se(np.eye(r.shape[0]), se, dh)
    return PinvSolution(dh, h0 + dh, bool(np.all(h0 + dh >= -1e-12)), r @ dh, pred_se)


def _outcomes(targets: Sequence[LinearTarget], t_mat: np.ndarray, r: np.ndarray, se: np.ndarray | None,
              dh: np.ndarray | None, d: np.ndarray, dh_pinv: np.ndarray, unreach: np.ndarray) -> list[TargetOutcome]:
    out = []
    for i, t in enumerate(targets):
        if t.kind == "move":
            out.append(_move_outcome(t, dh, float(d[i]), dh_pinv))
            continue
        pred = None if dh is None else float(t_mat[i] @ r @ dh)
        tse = None
        if dh is not None and se is not None:
            tse = float(diag.propagate_se(t_mat[i : i + 1], se, dh)[0])
        frac = pred / d[i] if pred is not None and d[i] != 0 else None
        out.append(TargetOutcome(t.label, t.kind, float(d[i]), pred, tse, frac,
                                 float(t_mat[i] @ r @ dh_pinv), bool(unreach[i])))
    return out


def _move_outcome(t: LinearTarget, dh: np.ndarray | None, desired: float, dh_pinv: np.ndarray) -> TargetOutcome:
    """A move target: the realized step's length along the requested direction ``e`` (so the
    achieved fraction is ``e·Δh / A``) and the angle between ``Δh`` and ``A·e``."""
    e = np.asarray(t.direction, float)
    pred = None if dh is None else float(e @ dh)
    angle = None if dh is None else angle_degrees(dh, desired * e)
    return TargetOutcome(t.label, t.kind, desired, pred, None,
                         pred / desired if pred is not None and desired else None,
                         float(e @ dh_pinv), False, angle)


def _spectrum_diagnostics(sv: np.ndarray, unreach: np.ndarray, targets: Sequence[LinearTarget]) -> SolveDiagnostics:
    rank = diag.numerical_rank(sv)
    cond = float(sv[0] / sv[rank - 1]) if rank else None
    dgn = SolveDiagnostics(singular_values=sv, rank=rank, condition=cond)
    for t, u in zip(targets, unreach):
        if u and t.kind == "hold":
            dgn.messages.append(f"target '{t.label}' (hold): no data direction moves it, so it "
                                "holds by itself")
        elif u:
            dgn.unreachable.append(t.label)
            dgn.messages.append(f"target '{t.label}': no data direction moves it (its response to "
                                "every mixture change is ~0); drop it, add a data component that "
                                "affects it, or estimate chi more precisely")
    n_live = int(np.sum(~unreach))
    if 0 < rank < n_live:
        dgn.messages.append(f"the {n_live} reachable targets span only {rank} independent data "
                            f"directions (singular values {_fmt(sv)}); unless they agree, the "
                            "solution is a least-squares compromise between them")
    return dgn


def _activity_messages(dgn: SolveDiagnostics, outcomes: list[TargetOutcome]) -> list[str]:
    msgs = [f"trust region '{lab}' is binding: the step stops at its radius, so the targets get "
            "only the first-order effect of that step; iterate (rounds) or enlarge the radius"
            for lab in dgn.trust_region_binding]
    msgs += [f"constraint '{lab}' is active at the optimum" for lab in dgn.active_constraints]
    if dgn.bounds_active:
        msgs.append("weight 0 reached by: " + ", ".join(dgn.bounds_active))
    for o in outcomes:
        if o.achieved_fraction is not None and not o.unreachable and o.achieved_fraction < 0.9:
            msgs.append(f"target '{o.label}' gets {100 * o.achieved_fraction:.3g}% of its desired "
                        "change")
    return msgs


def _infeasible_message(conflicting: list[str]) -> str:
    names = ", ".join(f"'{c}'" for c in conflicting)
    return f"infeasible: the constraints {names} cannot hold together on the simplex"


def _fmt(sv: np.ndarray) -> str:
    return ", ".join(f"{s:.3g}" for s in sv)

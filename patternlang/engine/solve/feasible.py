"""Can the constraints of a patterning hold at all? Decided before anything runs (``patc check``).

The new weights ``h'`` live on the simplex (``h' >= 0``, ``sum h' = 1``). Linear constraints
(``weight(a) >= 0.05``, ``weight(a) + weight(b) <= 0.9``) and ``fixed(c)`` cut a polytope out of
it; a trust region (``kl(base) <= r``, ``l2(base) <= r``) is a ball around the baseline ``h``.

* :func:`conflicting_linear`: a minimal set of linear/fixed constraints with an empty polytope
  (linear programs, by the deletion filter of :func:`~patternlang.engine.solve.diagnostics.
  conflicting_constraints`), or ``[]``.
* :func:`nearest_divergence`: how far the polytope is from ``h`` in the trust region's measure
  (``min KL(h'||h)`` or ``min ||h' - h||_2`` over it). When that exceeds the radius no solution
  exists, whatever chi turns out to be: ``weight(memo) >= 0.8`` with ``kl(base) <= 0.05`` and
  ``h_memo = 0.2`` needs KL >= 0.83.

numpy and scipy only (the checker must not import cvxpy); the runtime solve stays in cvxpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from patternlang.plan.ir import ConstraintSpec


def _rows(specs: Sequence[ConstraintSpec], h0: np.ndarray,
          names: list[str]) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    """(A_ub, b_ub, A_eq, b_eq) of the linear and fixed constraints, the simplex's sum included."""
    index = {n: i for i, n in enumerate(names)}
    a_ub: list[np.ndarray] = []
    b_ub: list[float] = []
    a_eq, b_eq = [np.ones(len(names))], [1.0]
    for spec in specs:
        if spec.kind == "linear":
            row = np.zeros(len(names))
            for name, coeff in spec.coeffs.items():
                row[index[name]] += coeff
            if spec.op == "<=":
                a_ub.append(row)
                b_ub.append(spec.rhs)
            elif spec.op == ">=":
                a_ub.append(-row)
                b_ub.append(-spec.rhs)
            else:
                a_eq.append(row)
                b_eq.append(spec.rhs)
        elif spec.kind == "fixed":
            for name in spec.components:
                row = np.zeros(len(names))
                row[index[name]] = 1.0
                a_eq.append(row)
                b_eq.append(float(h0[index[name]]))
    ub = (np.array(a_ub), np.array(b_ub)) if a_ub else (None, None)
    return ub[0], ub[1], np.array(a_eq), np.array(b_eq)


def _holds_at(x: np.ndarray, specs: Sequence[ConstraintSpec], h0: np.ndarray,
              names: list[str], tol: float = 1e-9) -> bool:
    """Whether ``x`` (on the simplex) satisfies every linear and fixed constraint."""
    a_ub, b_ub, a_eq, b_eq = _rows(specs, h0, names)
    ok_ub = a_ub is None or b_ub is None or bool(np.all(a_ub @ x <= b_ub + tol))
    return ok_ub and bool(np.all(np.abs(a_eq @ x - b_eq) <= tol))


def _feasible_point(specs: Sequence[ConstraintSpec], h0: np.ndarray,
                    names: list[str]) -> np.ndarray | None:
    """A point of the polytope, or None when it is empty: the baseline itself when it satisfies
    the constraints (the usual case, and no scipy import), else a linear program's."""
    if _holds_at(h0, specs, h0, names):
        return h0.copy()
    from scipy.optimize import linprog

    a_ub, b_ub, a_eq, b_eq = _rows(specs, h0, names)
    res = linprog(np.zeros(len(names)), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                  bounds=[(0, None)] * len(names), method="highs")
    return res.x if res.status == 0 else None


def conflicting_linear(h0: np.ndarray, specs: Sequence[ConstraintSpec], labels: list[str],
                       names: list[str]) -> list[str]:
    """Labels of a minimal conflicting subset of ``specs`` (linear / fixed only); ``[]`` when
    they hold together. Drop each constraint whose removal leaves the rest infeasible; the kept
    ones conflict, and removing any one of them resolves the conflict."""
    specs = list(specs)
    if _feasible_point(specs, h0, names) is not None:
        return []
    keep = list(range(len(specs)))
    for i in range(len(specs)):
        trial = [j for j in keep if j != i]
        if _feasible_point([specs[j] for j in trial], h0, names) is None:
            keep = trial
    return [labels[i] for i in keep]


def nearest_divergence(h0: np.ndarray, specs: Sequence[ConstraintSpec], names: list[str],
                       kind: str) -> float:
    """``min KL(h'||h0)`` (``kind = "kl"``) or ``min ||h' - h0||_2`` (``"l2"``) over the weights
    that satisfy the linear and fixed ``specs``; ``inf`` when none does. Components with
    ``h0 = 0`` must stay at 0 under KL (their divergence is infinite otherwise)."""
    specs = list(specs)
    if kind == "kl":
        zero = [n for n, h in zip(names, h0) if h <= 0]
        if zero:
            specs.append(ConstraintSpec(kind="fixed", components=zero))
    start = _feasible_point(specs, h0, names)
    if start is None:
        return float("inf")
    if _holds_at(h0, specs, h0, names):
        return 0.0
    from scipy.optimize import minimize

    a_ub, b_ub, a_eq, b_eq = _rows(specs, h0, names)
    safe = np.where(h0 > 0, h0, 1.0)

    def objective(x: np.ndarray) -> float:
        if kind == "l2":
            return float(np.sum((x - h0) ** 2))
        x = np.clip(x, 1e-300, None)
        return float(np.sum(np.where(h0 > 0, x * np.log(x / safe), 0.0)))

    cons = [{"type": "eq", "fun": lambda x: a_eq @ x - b_eq}]
    if a_ub is not None:
        cons.append({"type": "ineq", "fun": lambda x: b_ub - a_ub @ x})
    res = minimize(objective, start, method="SLSQP", bounds=[(0, 1)] * len(names),
                   constraints=cons, options={"ftol": 1e-12, "maxiter": 500})
    best = min(objective(start), objective(res.x)) if res.success else objective(start)
    return float(np.sqrt(best)) if kind == "l2" else best

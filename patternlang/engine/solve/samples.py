"""Per-sample patterning: new weights for every example of a pool (and every other component).

The unknowns are the weights ``p`` of *atoms*: each example of a pool component (an
``ExampleComponent`` whose per-sample χ was measured, ``per_sample = [pool]``) and each other
component as a whole. The baseline ``p0`` spreads a pool's mixture weight uniformly over its examples.
Mass moved toward atom ``i`` changes the posterior expectations by ``Δμ ≈ nβ Σ_i χ_i Δp_i`` (χ_i the
per-sample column; a pool's component χ is the mean of its examples' columns), so the problem is the
component problem of :mod:`patternlang.engine.solve.solver` with thousands of columns:

    minimize    Σ_t w_t (a_t·(p − p0) − d_t)²            (a_t = T_t R over atoms)
    subject to  p ≥ 0, Σ p = 1, component-level linear constraints (Σ_{i∈k} p_i is weight(k)),
                KL(p || p0) ≤ r   or   ||p − p0||₂ ≤ r.

Two solvers:

* **KL trust region — the dual** (:func:`solve_kl_dual`). The Lagrangian's minimizer over the
  simplex is an exponential tilt ``p ∝ p0·exp(−(Aᵀλ + Bᵀμ)/ν)`` (``λ`` per target, ``μ`` per linear
  constraint, ``ν`` the trust region's multiplier), so the dual
  ``D(λ, μ, ν) = −λᵀc − Σ λ_t²/(4 w_t) − μᵀb − ν log Σ p0 exp(−y/ν) − ν r`` is concave and smooth in
  ``T + C + 1`` variables, with gradients ``A p − c − λ/(2w)``, ``B p − b`` and ``KL(p‖p0) − r``.
  L-BFGS-B maximizes it; each evaluation costs ``O(n·(T + C))``. ``ν`` is kept above
  ``regularization · s² · min p0`` (s the largest target response): the tie-breaking minimum-KL
  choice when the targets are met inside the trust region (the role the ridge plays for components).
* **cvxpy** (:func:`solve_cvxpy`), the same program written directly: the reference in tests, the
  solver for an L2 trust region (one second-order cone), and the comparison in
  ``bench/per_sample_solver.py`` (a KL trust region is ``n`` exponential cones there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import ConstraintSpec


@dataclass
class AtomProblem:
    """The per-sample program in atom coordinates (see the module docstring).

    ``a``: target responses over atoms (targets x atoms); ``d`` desired changes; ``w`` weights;
    ``p0`` baseline weights; ``b_rows``/``b_ops``/``b_rhs`` linear constraints on ``p``;
    ``trust``: ``("kl" | "l2", radius)``."""

    a: np.ndarray
    d: np.ndarray
    w: np.ndarray
    p0: np.ndarray
    b_rows: np.ndarray
    b_ops: list[str]
    b_rhs: np.ndarray
    trust: tuple[str, float]
    regularization: float = 1e-6


@dataclass
class AtomSolution:
    status: str
    p: np.ndarray | None
    method: str
    seconds: float
    kl: float | None = None
    l2: float | None = None
    messages: list[str] = field(default_factory=list)


def atom_constraints(constraints: list[ConstraintSpec], comp_of_atom: list[str], p0: np.ndarray,
                     step: str) -> tuple[np.ndarray, list[str], np.ndarray, tuple[str, float]]:
    """Component-level constraints as rows over atoms, and the trust region.

    ``weight(k)`` is the sum of ``k``'s atoms, so a linear constraint's coefficient of ``k`` applies to
    each of them; ``fixed(k)`` keeps that sum at its baseline."""
    rows: list[np.ndarray] = []
    ops: list[str] = []
    rhs: list[float] = []
    trust: tuple[str, float] | None = None
    comps = np.array(comp_of_atom)
    for c in constraints:
        if c.kind in ("kl", "l2"):
            if trust is not None:
                raise PatRuntimeError(step, "per-sample patterning takes one trust region",
                                      "keep either kl(base) <= r or l2(base) <= r")
            trust = (c.kind, float(c.rhs))
        elif c.kind == "linear":
            rows.append(np.array([c.coeffs.get(k, 0.0) for k in comp_of_atom]))
            ops.append(c.op)
            rhs.append(c.rhs)
        else:
            for k in c.components:
                row = (comps == k).astype(float)
                rows.append(row)
                ops.append("==")
                rhs.append(float(row @ p0))
    if trust is None:
        raise PatRuntimeError(step, "per-sample patterning needs a trust region",
                              "add kl(base) <= 0.05 (or l2(base) <= ...) to 'subject to'")
    n = len(comp_of_atom)
    return (np.array(rows).reshape(len(rows), n), ops, np.array(rhs, float), trust)


def solve_kl_dual(pr: AtomProblem) -> AtomSolution:
    """The KL-trust-region program by its dual (module docstring): an outer search for the trust
    region's multiplier ``ν`` (``KL(p_ν‖p0)`` falls as ``ν`` grows), an inner L-BFGS-B over
    ``θ = λ/ν`` and ``μ/ν`` for fixed ``ν``, warm-started; Brent's method on ``log ν``."""
    t0 = time.perf_counter()
    dual = _Dual(pr)
    r = pr.trust[1]
    x = dual.x0()
    x, kl = dual.argmax(dual.nu_min, x)
    if kl > r:  # the trust region binds: bracket ν in log space, then solve KL(ν) = r
        floor = dual.floor()  # ν → ∞: the I-projection of p0 on the linear constraints
        if floor > r * (1 + 1e-6):
            return AtomSolution("infeasible", None, "dual/L-BFGS-B", time.perf_counter() - t0,
                                kl=floor, messages=[
                                    f"infeasible: the linear constraints need KL(p||p0) >= "
                                    f"{floor:.3g}, above the trust region's {r:g}"])
        lo, hi = dual.nu_min, dual.nu_min
        while kl > r:
            lo, hi = hi, hi * 100.0
            x, kl = dual.argmax(hi, x)
        from scipy.optimize import brentq

        state = {"x": x}

        def excess(log_nu: float) -> float:
            state["x"], k = dual.argmax(float(np.exp(log_nu)), state["x"])
            return k - r

        nu = float(np.exp(brentq(excess, np.log(lo), np.log(hi), xtol=1e-10, rtol=1e-12)))
        x, kl = dual.argmax(nu, state["x"])
    sol = AtomSolution("optimal" if dual.ok else "optimal_inaccurate", dual.p, "dual/L-BFGS-B",
                       time.perf_counter() - t0)
    return _finish(sol, pr)


class _Dual:
    """``G_ν(θ, η) = −θᵀc − ηᵀb − log Σ p0 exp(−Aᵀθ − Bᵀη) − ν Σ θ²/(4w)``: the dual of the
    KL-penalized program divided by ``ν`` (concave; its maximizer's tilt is the primal solution).
    Targets are scaled to unit largest response first, so ``ν`` is in units of that scale."""

    def __init__(self, pr: AtomProblem):
        live = pr.w > 0
        a, self.w = pr.a[live], pr.w[live]
        s = float(np.linalg.norm(np.sqrt(self.w)[:, None] * a, 2)) if a.size else 0.0
        unit = s if s > 0 else 1.0
        self.a = a / unit
        self.c = self.a @ pr.p0 + pr.d[live] / unit
        sign = np.array([-1.0 if op == ">=" else 1.0 for op in pr.b_ops])
        self.B = pr.b_rows * sign[:, None] if pr.b_ops else np.zeros((0, len(pr.p0)))
        self.b = pr.b_rhs * sign if pr.b_ops else np.zeros(0)
        self.free = [op == "==" for op in pr.b_ops]
        self.supp = pr.p0 > 0
        self.logp0 = np.log(np.where(self.supp, pr.p0, 1.0))
        self.nu_min = max(pr.regularization, 1e-12) * float(pr.p0[self.supp].min())
        self.p, self.ok = pr.p0.copy(), True

    def x0(self) -> np.ndarray:
        return np.zeros(self.a.shape[0] + self.B.shape[0])

    def tilt(self, x: np.ndarray) -> tuple[np.ndarray, float, float]:
        T = self.a.shape[0]
        z = self.logp0 - self.a.T @ x[:T] - self.B.T @ x[T:]
        zmax = z[self.supp].max()
        e = np.where(self.supp, np.exp(z - zmax), 0.0)
        tot = e.sum()
        p = e / tot
        kl = float(np.sum(p[self.supp] * (z[self.supp] - zmax - np.log(tot) - self.logp0[self.supp])))
        return p, zmax + float(np.log(tot)), kl

    def floor(self) -> float:
        """The least KL(p‖p0) the linear constraints allow (targets ignored): the I-projection."""
        from scipy.optimize import minimize

        T, C = self.a.shape[0], self.B.shape[0]
        if C == 0:
            return 0.0

        def neg(eta: np.ndarray) -> tuple[Any, Any]:
            p, lse, _ = self.tilt(np.concatenate([np.zeros(T), eta]))
            return -(-eta @ self.b - lse), -(self.B @ p - self.b)

        bounds = [(None, None) if f else (0.0, None) for f in self.free]
        res = minimize(neg, np.zeros(C), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 5000, "ftol": 1e-16, "gtol": 1e-12})
        return self.tilt(np.concatenate([np.zeros(T), res.x]))[2]

    def argmax(self, nu: float, x0: np.ndarray) -> tuple[np.ndarray, float]:
        from scipy.optimize import minimize

        T = self.a.shape[0]

        def neg(x: np.ndarray) -> tuple[Any, Any]:
            p, lse, _ = self.tilt(x)
            th, eta = x[:T], x[T:]
            g = -th @ self.c - eta @ self.b - lse - nu * np.sum(th**2 / (4 * self.w))
            grad = np.concatenate([self.a @ p - self.c - nu * th / (2 * self.w), self.B @ p - self.b])
            return -g, -grad

        bounds = [(None, None)] * T + [(None, None) if f else (0.0, None) for f in self.free]
        res = minimize(neg, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 20000, "maxcor": 30, "ftol": 1e-16, "gtol": 1e-12})
        self.p, _, kl = self.tilt(res.x)
        self.ok = bool(res.success) or res.status == 2  # 2: no further progress at machine precision
        return res.x, kl


def solve_cvxpy(pr: AtomProblem) -> AtomSolution:
    """The same program written for cvxpy (CLARABEL, then SCS): the reference, and the L2 path."""
    import cvxpy as cp

    from patternlang.engine.solve.program import run_problem

    t0 = time.perf_counter()
    n = len(pr.p0)
    p = cp.Variable(n)
    sw = np.sqrt(pr.w)
    s2 = float(np.linalg.norm(sw[:, None] * pr.a, 2) ** 2) if pr.a.size else 1.0
    unit = np.sqrt(s2) if s2 > 0 else 1.0
    obj = cp.sum_squares((sw[:, None] * pr.a / unit) @ (p - pr.p0) - sw * pr.d / unit)
    obj = obj + max(pr.regularization, 1e-12) * cp.sum_squares(p - pr.p0)
    cons = [p >= 0, cp.sum(p) == 1]
    for row, op, rhs in zip(pr.b_rows, pr.b_ops, pr.b_rhs):
        cons.append({"<=": row @ p <= rhs, ">=": row @ p >= rhs, "==": row @ p == rhs}[op])
    supp = pr.p0 > 0
    if pr.trust[0] == "kl":
        cons += [cp.sum(cp.rel_entr(p[supp], pr.p0[supp])) <= pr.trust[1], p[~supp] == 0]
    else:
        cons.append(cp.norm(p - pr.p0, 2) <= pr.trust[1])
    status, solver = run_problem(cp.Problem(cp.Minimize(obj), cons))
    value = None if p.value is None or status not in ("optimal", "optimal_inaccurate") else \
        np.clip(p.value, 0.0, None) / np.clip(p.value, 0.0, None).sum()
    sol = AtomSolution(status, value, "cvxpy/" + solver, time.perf_counter() - t0)
    return _finish(sol, pr)


def _finish(sol: AtomSolution, pr: AtomProblem) -> AtomSolution:
    if sol.p is None:
        sol.messages.append(f"the per-sample program is {sol.status}")
        return sol
    supp = sol.p > 0
    sol.kl = float(np.sum(sol.p[supp] * np.log(sol.p[supp] / pr.p0[supp])))
    sol.l2 = float(np.linalg.norm(sol.p - pr.p0))
    used = sol.kl if pr.trust[0] == "kl" else sol.l2
    if used >= 0.999 * pr.trust[1]:
        sol.messages.append(f"trust region '{pr.trust[0]}(base) <= {pr.trust[1]:g}' is binding")
    for row, op, rhs in zip(pr.b_rows, pr.b_ops, pr.b_rhs):
        v = float(row @ sol.p)
        bad = {"<=": v > rhs + 1e-6, ">=": v < rhs - 1e-6, "==": abs(v - rhs) > 1e-6}[op]
        if bad:
            sol.status = "optimal_inaccurate"
            sol.messages.append(f"a linear constraint is violated by {abs(v - rhs):.2g}")
    return sol

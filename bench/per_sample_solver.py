"""Per-sample patterning solver: the KL dual against cvxpy on pools of 10,000 and 50,000 examples.

A synthetic per-sample problem shaped like specs/induction_per_sample.pat: ``T = 3`` targets (raise
one observable, hold two) over ``n`` atoms (two pools of examples plus two components), responses
with the scale of nβ·χ at CPU size (~1e-4 per example), one linear bound on the pools' total weight
and a KL trust region of 0.05 that binds. For each ``n`` it times
:func:`~patternlang.engine.solve.samples.solve_kl_dual` and the same program through cvxpy
(:func:`~patternlang.engine.solve.samples.solve_cvxpy`: ``n`` exponential cones, CLARABEL), and
checks that they agree (largest weight difference relative to a baseline weight, objective values).

``ratio`` = cvxpy seconds ÷ dual seconds at the largest ``n`` both finished (goal ≥ 10: the dual is
what makes pools of 10k+ practical). Usage: ``PYTHONPATH=. python bench/per_sample_solver.py
[--sizes 10000 50000] [--cvxpy-max 50000]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from patternlang.engine.solve.samples import AtomProblem, solve_cvxpy, solve_kl_dual


def problem(n: int, seed: int = 0) -> tuple[AtomProblem, np.ndarray]:
    rng = np.random.default_rng(seed)
    comps = ["spans", "text"] + ["code"] * ((n - 2) * 3 // 5) + ["prose"] * (n - 2 - (n - 2) * 3 // 5)
    h = {"spans": 0.35, "text": 0.15, "code": 0.3, "prose": 0.2}
    size = {k: comps.count(k) for k in h}
    p0 = np.array([h[c] / size[c] for c in comps])
    a = rng.standard_normal((3, n)) * 1e-4
    a[0, :2] = [3e-3, 1e-3]  # the synthetic components move the induction score most
    d = np.array([0.1, 0.0, 0.0])
    pools = np.array([1.0 if c in ("code", "prose") else 0.0 for c in comps])
    return AtomProblem(a, d, np.array([1.0, 0.5, 0.5]), p0, pools[None, :], [">="],
                       np.array([0.3]), ("kl", 0.05)), p0


def objective(pr: AtomProblem, p: np.ndarray) -> float:
    return float(np.sum(pr.w * (pr.a @ (p - pr.p0) - pr.d) ** 2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--cvxpy-max", type=int, default=50_000)
    args = ap.parse_args()
    t_all = time.perf_counter()
    rows, ratio = [], None
    for n in args.sizes:
        pr, p0 = problem(n)
        dual = solve_kl_dual(pr)
        row = {"n": n, "dual_s": round(dual.seconds, 3), "dual_status": dual.status,
               "dual_kl": dual.kl, "dual_objective": objective(pr, dual.p)}
        if n <= args.cvxpy_max:
            ref = solve_cvxpy(pr)
            row.update(cvxpy_s=round(ref.seconds, 3), cvxpy_status=ref.status, cvxpy_kl=ref.kl,
                       cvxpy_objective=None if ref.p is None else objective(pr, ref.p))
            if ref.p is not None:
                row["max_weight_diff_rel"] = float(np.max(np.abs(dual.p - ref.p) / p0))
                ratio = ref.seconds / dual.seconds
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"bench": "per_sample_solver", "ratio": None if ratio is None else round(ratio, 2),
                      "goal_ratio": 10, "sizes": rows,
                      "seconds": round(time.perf_counter() - t_all, 1)}))


if __name__ == "__main__":
    main()

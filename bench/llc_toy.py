"""Benchmark: LLC accuracy on normal crossings and reduced-rank regression, and batched throughput.

Accuracy: relative error of the LLC estimate against λ (and, for normal crossings, against the exact
finite-nβ posterior expectation by quadrature, which is what an exact sampler would give).
Throughput: chain-steps per second of ``run_sgld`` with all chains batched ÷ steps per second of a
bare hand-written single-chain SGLD loop, on RRR (5, 3, 5), full batch n = 1000.
``ratio`` (the headline) is that throughput ratio; devinterp is timed too when importable.

Usage: ``PYTHONPATH=. python bench/llc_toy.py [--quick]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from patternlang.engine.sgld import SGLDConfig, run_sgld
from patternlang.engine.toy_models import NormalCrossing, ReducedRankRegression, normal_crossing_exact

torch.set_num_threads(1)
POWERS = [[0, 1], [1, 1], [0, 2], [1, 2], [2, 2], [0, 3], [1, 3], [2, 3], [3, 3]]
RRR = [(5, 3, 5), (5, 4, 5), (4, 3, 8), (8, 3, 4), (3, 8, 4)]


def normal_crossings(draws: int) -> list[dict]:
    rows = []
    for p in POWERS:
        toy = NormalCrossing(p)
        cfg = SGLDConfig(step_size=1e-4, gamma=1.0, num_chains=8, num_draws=draws, burnin=draws // 4,
                         init_loss_batches=1, seed=1)
        res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
        exact = normal_crossing_exact(toy, res.nbeta, 1.0)
        rows.append({"powers": p, "llc": round(res.llc_mean, 4), "se": round(res.llc_se, 4),
                     "lambda": round(toy.true_llc, 4), "exact_finite_nbeta": round(exact, 4),
                     "rel_err": round(res.llc_mean / toy.true_llc - 1, 3),
                     "rel_err_vs_exact": round(res.llc_mean / exact - 1, 3), "multiplicity": toy.multiplicity})
    return rows


def rrr(draws: int) -> list[dict]:
    rows = []
    for M, H, N in RRR:
        toy = ReducedRankRegression(M, H, N)
        center = toy.fit_center(seed=42)
        cfg = SGLDConfig(step_size=2e-4, gamma=1.0, num_chains=4, num_draws=draws, burnin=draws // 2,
                         init_loss_batches=1, seed=1)
        res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center=center)
        rows.append({"MHN": [M, H, N], "llc": round(res.llc_mean, 3), "se": round(res.llc_se, 3),
                     "lambda": toy.true_llc, "rel_err": round(res.llc_mean / toy.true_llc - 1, 3)})
    return rows


def bare_loop_steps_per_s(toy: ReducedRankRegression, steps: int) -> float:
    """The floor a hand-written single-chain loop reaches: autograd + in-place update + noise."""
    A = torch.zeros_like(toy.A).requires_grad_(True)
    B = torch.zeros_like(toy.B).requires_grad_(True)
    A0, B0 = A.detach().clone(), B.detach().clone()
    x, y = toy.data["x"], toy.data["y"]
    eps, gamma, nbeta = 2e-4, 1.0, 1000 / math.log(1000)
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for _ in range(steps):
        loss = (0.5 * ((y - x @ A.T @ B.T) ** 2).sum(-1)).mean()
        gA, gB = torch.autograd.grad(loss, (A, B))
        with torch.no_grad():
            for w, gw, w0 in ((A, gA, A0), (B, gB, B0)):
                w.add_(-eps / 2 * (nbeta * gw + gamma * (w - w0)) + math.sqrt(eps) * torch.randn(w.shape, generator=g))
    return steps / (time.perf_counter() - t)


def batched_chain_steps_per_s(toy: ReducedRankRegression, steps: int, chains: int) -> float:
    stamps: list[float] = []
    cfg = SGLDConfig(step_size=2e-4, gamma=1.0, num_chains=chains, num_draws=steps, init_loss_batches=1,
                     check_every=steps // 4)
    run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, progress=lambda d, t: stamps.append(time.perf_counter()))
    return chains * (steps - steps // 4) / (stamps[-1] - stamps[0])


def devinterp_steps_per_s(toy, steps: int) -> float | None:
    try:
        import devinterp  # noqa: F401
    except ImportError:
        return None
    from devinterp.optim.sgld import SGLD  # pragma: no cover - optional
    model = torch.nn.Sequential(torch.nn.Linear(toy.A.shape[1], toy.A.shape[0], bias=False),
                                torch.nn.Linear(toy.A.shape[0], toy.B.shape[0], bias=False))
    opt = SGLD(model.parameters(), lr=2e-4, localization=1.0, nbeta=1000 / math.log(1000))
    x, y = toy.data["x"], toy.data["y"]
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * ((y - model(x)) ** 2).sum(-1)).mean().backward()
        opt.step()
    return steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer draws (smoke run)")
    args = ap.parse_args()
    nc_draws, rrr_draws = (1000, 1000) if args.quick else (8000, 6000)
    nc, rr = normal_crossings(nc_draws), rrr(rrr_draws)
    toy = ReducedRankRegression(5, 3, 5)
    bare = max(bare_loop_steps_per_s(toy, 2000) for _ in range(2))
    batched = {c: max(batched_chain_steps_per_s(toy, 2000, c) for _ in range(2)) for c in (4, 8)}
    dev = devinterp_steps_per_s(toy, 2000)
    for r in nc + rr:
        print(r)
    out = {"bench": "llc_toy", "ratio": round(batched[8] / bare, 3), "goal_ratio": 1.5,
           "bare_single_chain_steps_per_s": round(bare, 1),
           "batched_chain_steps_per_s": {str(c): round(v, 1) for c, v in batched.items()},
           "ratio_4_chains": round(batched[4] / bare, 3),
           "rrr_max_abs_rel_err": max(abs(r["rel_err"]) for r in rr),
           "nc_max_abs_rel_err": max(abs(r["rel_err"]) for r in nc),
           "nc_max_abs_rel_err_vs_exact": max(abs(r["rel_err_vs_exact"]) for r in nc),
           "normal_crossing": nc, "rrr": rr,
           "devinterp": "skipped (not installed)" if dev is None else {
               "steps_per_s": round(dev, 1), "speedup": round(batched[8] / dev, 2)}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

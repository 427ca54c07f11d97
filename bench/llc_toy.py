"""Benchmark: LLC accuracy on normal crossings and reduced-rank regression, and batched throughput.

Accuracy: relative error of the LLC estimate against λ (and, for normal crossings, against the exact
finite-nβ posterior expectation by quadrature, which is what an exact sampler would give).
Throughput: chain-steps per second of ``run_sgld`` with all chains batched ÷ steps per second of a
bare hand-written single-chain SGLD loop, on RRR (5, 3, 5), full batch n = 1000 (the data, not its
moments). ``ratio`` (the headline) is that throughput ratio; devinterp is timed too when importable.

Settings (printed in the JSON under ``settings``): n = 1000 samples, nβ = n / log n ≈ 144.8, full
batch given to the sampler as its exact moments (``sufficient_stats=True``: the same loss, cheaper
steps). Normal crossings: γ = 1, ε = 1e-4, 8 chains × 8000 draws after 2000 burn-in, localized at 0.
RRR: γ = 1, ε = 2e-4, 4 chains × 6000 draws after 3000 burn-in, localized at an empirical minimum
(devinterp's protocol) and, for comparison, at the true parameter 0.
``--posterior`` adds the exact finite-nβ normal-crossing values for larger n and smaller γ (quadrature)
and SGLD at n = 1e5, γ = 0.01 on the four hardest cases, the evidence for what limits the accuracy.

Usage: ``PYTHONPATH=. python bench/llc_toy.py [--quick] [--posterior]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.testing.toy_models import NormalCrossing, ReducedRankRegression, normal_crossing_exact

torch.set_num_threads(1)
POWERS = [[0, 1], [1, 1], [0, 2], [1, 2], [2, 2], [0, 3], [1, 3], [2, 3], [3, 3]]
RRR = [(5, 3, 5), (5, 4, 5), (4, 3, 8), (8, 3, 4), (3, 8, 4)]


SETTINGS = {"n": 1000, "nbeta": "n/log n", "batch": "full (exact moments)",
            "normal_crossing": {"gamma": 1.0, "step_size": 1e-4, "chains": 8, "center": "0"},
            "rrr": {"gamma": 1.0, "step_size": 2e-4, "chains": 4, "data": "x~N(0,I_M), y~N(0,I_N), seed 42",
                    "center": "empirical minimum (Adam, seed 42); also the true parameter 0"}}


def normal_crossings(draws: int, powers=POWERS, n: int = 1000, gamma: float = 1.0, step: float = 1e-4) -> list[dict]:
    rows = []
    for p in powers:
        toy = NormalCrossing(p, n=n, sufficient_stats=True)
        cfg = SGLDConfig(step_size=step, gamma=gamma, nbeta=toy.nbeta, num_chains=8, num_draws=draws,
                         burnin=draws // 4, init_loss_batches=1, seed=1, check_every=100)
        res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
        exact = normal_crossing_exact(toy, res.nbeta, gamma)
        rows.append({"powers": p, "llc": round(res.llc_mean, 4), "se": round(res.llc_se, 4),
                     "lambda": round(toy.true_llc, 4), "exact_finite_nbeta": round(exact, 4),
                     "rel_err": round(res.llc_mean / toy.true_llc - 1, 3),
                     "rel_err_vs_exact": round(res.llc_mean / exact - 1, 3), "multiplicity": toy.multiplicity})
    return rows


def rrr(draws: int) -> list[dict]:
    rows = []
    for M, H, N in RRR:
        toy = ReducedRankRegression(M, H, N, sufficient_stats=True)
        cfg = SGLDConfig(step_size=2e-4, gamma=1.0, nbeta=toy.nbeta, num_chains=4, num_draws=draws,
                         burnin=draws // 2, init_loss_batches=1, seed=1, check_every=100)
        fit = toy.fit_center(seed=42)
        res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center=fit)
        at0 = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
        shift = toy.nbeta * (at0.init_loss - res.init_loss)  # nβ(L(0) - L(ŵ)): what the center adds
        rows.append({"MHN": [M, H, N], "llc": round(res.llc_mean, 3), "se": round(res.llc_se, 3),
                     "lambda": toy.true_llc, "rel_err": round(res.llc_mean / toy.true_llc - 1, 3),
                     "llc_at_0": round(at0.llc_mean, 3), "se_at_0": round(at0.llc_se, 3),
                     "rel_err_at_0": round(at0.llc_mean / toy.true_llc - 1, 3),
                     "center_shift": round(shift, 3)})
    return rows


def posterior_study(draws: int) -> dict:
    """Exact finite-nβ normal-crossing values vs n and γ, and SGLD where they are within 15 %."""
    exact = {}
    for n in (1000, 10**4, 10**5):
        for gamma in (1.0, 0.1, 0.01):
            rel = [normal_crossing_exact(t, t.nbeta, gamma) / t.true_llc - 1
                   for t in (NormalCrossing(p, n=n, sufficient_stats=True) for p in POWERS)]
            exact[f"n={n},gamma={gamma}"] = [round(r, 3) for r in rel]
    hard = [[1, 1], [2, 2], [2, 3], [3, 3]]
    sgld = normal_crossings(draws, hard, n=10**5, gamma=0.01, step=2e-5)
    return {"exact_rel_err_vs_lambda": exact, "powers": POWERS, "sgld_n1e5_gamma0.01": sgld}


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


def llc_end_to_end(draws: int, chains: int = 4) -> dict | None:
    """devinterp's public ``llc()`` vs patternlang's ``run_sgld`` end to end on RRR (5, 3, 5), full
    batch of the n = 1000 samples, γ = 1, ε = 2e-4, nβ = n / log n, same chains and draws; seconds
    include each library's setup (devinterp: its dataset, zarr store and L(w*); patternlang: L(w*)).

    devinterp takes language-model data (an ``input_ids`` column, a per-token loss), so each sample
    is handed over as ``input_ids = [i, i]`` and the loss looks up sample ``i``: one "token" per sample.
    """
    try:
        from datasets import Dataset
        from devinterp.slt.llc import llc
    except ImportError:
        return None
    toy = ReducedRankRegression(5, 3, 5)
    x, y = toy.data["x"], toy.data["y"]
    n = x.shape[0]

    def per_token(model, input_ids):  # devinterp's loss protocol: (batch, seq - 1)
        i = input_ids[:, 0]
        return (0.5 * ((y[i] - model(x[i])) ** 2).sum(-1))[:, None]

    ds = Dataset.from_dict({"input_ids": [[i, i] for i in range(n)]}).with_format("torch")
    t = time.perf_counter()
    res = llc(toy, ds, {}, lr=2e-4, n_beta=toy.nbeta, localization=1.0, num_chains=chains,
              num_draws=draws, batch_size=n, num_init_loss_batches=1, loss_fn=per_token, shuffle=False)
    dev_s = time.perf_counter() - t
    cfg = SGLDConfig(step_size=2e-4, gamma=1.0, nbeta=toy.nbeta, num_chains=chains, num_draws=draws,
                     init_loss_batches=1, seed=1)
    t = time.perf_counter()
    ours = run_sgld(toy, toy.loss_fn, toy.batch_fn, cfg)
    pl_s = time.perf_counter() - t
    return {"draws": draws, "chains": chains, "devinterp_seconds": round(dev_s, 2),
            "patternlang_seconds": round(pl_s, 2), "speedup": round(dev_s / pl_s, 2),
            "devinterp_llc": round(float(res["llc_mean"]), 3), "patternlang_llc": round(ours.llc_mean, 3),
            "patternlang_llc_se": round(ours.llc_se, 3), "lambda": toy.true_llc}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer draws (smoke run)")
    ap.add_argument("--posterior", action="store_true", help="add the finite-nβ / mixing study")
    args = ap.parse_args()
    nc_draws, rrr_draws = (1000, 1000) if args.quick else (8000, 6000)
    nc, rr = normal_crossings(nc_draws), rrr(rrr_draws)
    study = posterior_study(nc_draws) if args.posterior else None
    toy = ReducedRankRegression(5, 3, 5)
    bare = max(bare_loop_steps_per_s(toy, 2000) for _ in range(2))
    batched = {c: max(batched_chain_steps_per_s(toy, 2000, c) for _ in range(2)) for c in (4, 8)}
    dev = devinterp_steps_per_s(toy, 2000)
    e2e = llc_end_to_end(500 if args.quick else 3000)
    for r in nc + rr:
        print(r)
    out = {"bench": "llc_toy", "ratio": round(batched[8] / bare, 3), "goal_ratio": 1.5, "settings": SETTINGS,
           "bare_single_chain_steps_per_s": round(bare, 1),
           "batched_chain_steps_per_s": {str(c): round(v, 1) for c, v in batched.items()},
           "ratio_4_chains": round(batched[4] / bare, 3),
           "rrr_max_abs_rel_err": max(abs(r["rel_err"]) for r in rr),
           "nc_max_abs_rel_err": max(abs(r["rel_err"]) for r in nc),
           "nc_max_abs_rel_err_vs_exact": max(abs(r["rel_err_vs_exact"]) for r in nc),
           "rrr_max_abs_rel_err_at_0": max(abs(r["rel_err_at_0"]) for r in rr),
           "normal_crossing": nc, "rrr": rr, "posterior_study": study,
           "devinterp": "skipped (not installed)" if dev is None else {
               "steps_per_s": round(dev, 1), "speedup": round(batched[8] / dev, 2),
               "llc_end_to_end": e2e}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

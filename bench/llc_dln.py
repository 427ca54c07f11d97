"""Benchmark: LLC accuracy on deep linear networks against Aoyagi's learning coefficient.

Three DLNs (``patternlang.testing.dln``; 300, 4500 and 102 400 parameters), localized at a true parameter of rank r, population loss
½‖W_N⋯W_1 - P₀‖² (exact, no data noise), nβ = 1000, γ = 10, 4 chains. Four samplers per size:
plain SGLD and RMSProp-preconditioned SGLD, each at a fixed ε (1e-5, a devinterp-style hand choice
at this nβ) and at ``step = auto`` (the scan of ``engine/sampler/step_scan.py`` from 1e-3 down, burn-in up to 20000 steps per point).
Final runs: ``draws`` kept draws after as many burn-in steps (3000, quick 1000); at ``auto`` the
burn-in is at least one localization time 2/(εγ), as ``step = auto`` does in a spec.
Each cell reports λ̂ ± SE, the relative error against λ, R-hat and ESS; ``max_abs_rel_err`` (the
headline) is the largest |relative error| over the cells of the recommended sampler (``auto``
columns), ``max_abs_rel_err_all`` over every cell; ``ratio`` = that headline ÷ the same figure for
plain SGLD at the fixed ε (below 1: calibration helped). A cell whose chains all diverge is
recorded as diverged (``rel_err`` null) and counts as a failure of its sampler in the headline.

The largest size is 4 layers of width 160 (102 400 parameters, rank 20, λ = 9125). A deeper
network of the same size, 10 layers of width 100 (λ = 3560), was tried first: every chain diverged
at ε = 1e-5 within 5 steps (the product of 10 layers makes the stiffest direction ~2^10 times
steeper), and a stable ε ≈ 2.5e-6 has a localization time 2/(εγ) = 80 000 steps at γ = 10, about
three hours of this CPU per ``auto`` cell; the scan's budget (``MAX_BURNIN``) stops it first.

Usage: ``PYTHONPATH=. python bench/llc_dln.py [--quick]`` (quick: the two smaller sizes, shorter
runs). The last line is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import torch

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.engine.sampler.temperature import localization_steps
from patternlang.engine.sampler.step_scan import scan_step_size
from patternlang.errors import DivergenceError, PatRuntimeError
from patternlang.testing.dln import DeepLinearNetwork

torch.set_num_threads(1)
SIZES = [([10, 10, 10, 10], 3), ([30] * 6, 10), ([160] * 5, 20)]  # 300, 4500, 102400 parameters
NBETA, GAMMA, FIXED_STEP = 1000.0, 10.0, 1e-5
MAX_BURNIN = 20000  # the scan reaches ε = 2/(γ·MAX_BURNIN) = 1e-5


def cell(toy: DeepLinearNetwork, cfg: SGLDConfig, auto: bool, scan_draws: int) -> dict:
    t0 = time.perf_counter()
    scan = None
    try:
        if auto:
            scan = scan_step_size(toy, toy.batched_loss, toy.batch_fn, cfg, center=toy.center(), max_step=1e-3,
                                  draws=scan_draws, max_burnin=MAX_BURNIN)
            cfg = dataclasses.replace(cfg, step_size=scan.chosen,
                                      burnin=max(cfg.burnin, math.ceil(localization_steps(scan.chosen, cfg.gamma))))
        res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center=toy.center())
    except (DivergenceError, PatRuntimeError) as err:  # every chain diverged, or the scan found no stable ε
        return {"step": cfg.step_size, "llc": None, "rel_err": None, "failed": str(err).splitlines()[0],
                "seconds": round(time.perf_counter() - t0, 1)}
    d = res.diagnostics
    out = {"step": cfg.step_size, "llc": round(res.llc_mean, 3), "se": round(res.llc_se, 3),
           "rel_err": round(res.llc_mean / toy.true_llc - 1, 4), "rhat": round(d.rhat, 4),
           "ess": round(d.ess, 1), "seconds": round(time.perf_counter() - t0, 1)}
    if scan is not None:
        out["plateau"] = scan.plateau
        out["scan"] = [(r["step_size"], r["llc"] and round(r["llc"], 2), r["reason"]) for r in scan.rows]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    draws, scan_draws = (1000, 300) if args.quick else (3000, 500)
    rows = []
    for widths, rank in sizes:
        toy = DeepLinearNetwork(widths, rank, seed=0)
        row = {"widths": widths, "rank": rank, "params": toy.num_params, "lambda": toy.true_llc}
        for pre in ("none", "rmsprop"):
            base = SGLDConfig(step_size=FIXED_STEP, gamma=GAMMA, nbeta=NBETA, num_chains=4, num_draws=draws,
                              burnin=draws, init_loss_batches=1, seed=0, check_every=100, preconditioner=pre)
            for auto in (False, True):
                key = f"{'rmsprop' if pre == 'rmsprop' else 'plain'}_{'auto' if auto else 'fixed'}"
                row[key] = cell(toy, base, auto, scan_draws)
                print(row["widths"], key, row[key], flush=True)
        rows.append(row)
    keys = ["plain_fixed", "plain_auto", "rmsprop_fixed", "rmsprop_auto"]
    # a failed cell (diverged, no stable ε) is an infinite error; JSON prints it as null
    err = {k: max(math.inf if r[k]["rel_err"] is None else abs(r[k]["rel_err"]) for r in rows) for k in keys}
    best = min(("plain_auto", "rmsprop_auto"), key=lambda k: err[k])
    finite = math.isfinite(err[best]) and math.isfinite(err["plain_fixed"]) and err["plain_fixed"] > 0
    ratio = round(err[best] / err["plain_fixed"], 3) if finite else None
    err = {k: None if math.isinf(v) else v for k, v in err.items()}
    print(json.dumps({"bench": "llc_dln", "ratio": ratio, "quick": args.quick, "nbeta": NBETA, "gamma": GAMMA,
                      "fixed_step": FIXED_STEP, "rows": rows, "max_abs_rel_err_by_sampler": err,
                      "recommended": best, "max_abs_rel_err": err[best],
                      "max_abs_rel_err_all": None if None in err.values() else max(err.values())}))


if __name__ == "__main__":
    main()

"""Benchmark: LLC accuracy on deep linear networks against Aoyagi's learning coefficient.

Three DLNs (``patternlang.testing.dln``), localized at a true parameter of rank r, population loss
½‖W_N⋯W_1 - P₀‖² (exact, no data noise), 4 chains, γ = nβ/100:

* [10]×4, r = 3 (300 parameters, λ = 42) and [30]×6, r = 10 (4500, λ = 370): Gaussian centers,
  nβ = 1000;
* [160]×5, r = 20 (102 400 parameters, λ = 9125): an orthogonal center (every factor's singular
  values 1; the same λ), nβ = 1e5.

Why the third size differs. At nβ = 1000 the posterior of a network with λ = 9125 is not local:
its mean loss λ/nβ ≈ 9.1 is 11 % of the scale of the true map (½‖P₀‖² = 81 at the Gaussian
center), against 3.5 % for the 4500-parameter network; nβ = 1e5 brings it to 0.9 % (½‖P₀‖² = 10
at the orthogonal center). The Gaussian center's product of layers has singular values up to
~2^N, and the steepest directions bound ε far below the flat ones' needs: measured there at
nβ = 1000 (run recorded in bench/RESULTS.md), every chain diverged at ε ≥ 6.25e-5, the scan found
no plateau and λ̂ was 36 % high at its smallest ε. (A 10-layer [100]×11 network of the same size
diverged at 1e-5 within 5 steps.) γ/nβ and the scan's ε·nβ are the same at every size, so the
localization time 2/(εγ) of each point — the cost — is too.

Four samplers per size: plain SGLD and RMSProp-preconditioned SGLD, each at a fixed ε (1e-5 at
nβ = 1000, a devinterp-style hand choice, scaled as 1/nβ) and at ``step = auto`` (the scan of
``engine/sampler/step_scan.py`` from 1e-3·1000/nβ down, burn-in up to 20000 steps per point).
Final runs: ``draws`` kept draws after as many burn-in steps (3000, quick 1000); at ``auto`` the
burn-in is at least one localization time 2/(εγ), as ``step = auto`` does in a spec.
Each cell reports λ̂ ± SE, the relative error against λ, R-hat and ESS; ``max_abs_rel_err`` (the
headline) is the largest |relative error| over the cells of the recommended sampler (``auto``
columns), ``max_abs_rel_err_all`` over every cell; ``ratio`` = that headline ÷ the same figure for
plain SGLD at the fixed ε (below 1: calibration helped). A cell whose chains all diverge (or whose
scan finds no stable ε) is recorded as failed (``rel_err`` null) and counts as a failure of its
sampler in the headline.

Usage: ``PYTHONPATH=. python bench/llc_dln.py [--quick] [--sizes 0,1,2]`` (quick: the two smaller
sizes, shorter runs). The last line is JSON.
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
# (widths, rank, center, nβ): 300, 4500 and 102 400 parameters; γ = nβ/100 at every size
SIZES = [([10, 10, 10, 10], 3, "gaussian", 1e3), ([30] * 6, 10, "gaussian", 1e3), ([160] * 5, 20, "orthogonal", 1e5)]
FIXED_STEP, MAX_STEP = 1e-5, 1e-3  # at nβ = 1000; both scale as 1/nβ (the same ε·curvature)
MAX_BURNIN = 20000  # the scan reaches ε = 2/(γ·MAX_BURNIN) = 1e-5 (at nβ = 1000)


def cell(toy: DeepLinearNetwork, cfg: SGLDConfig, auto: bool, scan_draws: int, max_step: float) -> dict:
    t0 = time.perf_counter()
    scan = None
    try:
        if auto:
            scan = scan_step_size(toy, toy.batched_loss, toy.batch_fn, cfg, center=toy.center(), max_step=max_step,
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
    ap.add_argument("--sizes", default=None, help="comma-separated size indices (0, 1, 2) to run")
    args = ap.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    if args.sizes:
        sizes = [SIZES[int(i)] for i in args.sizes.split(",")]
    draws, scan_draws = (1000, 300) if args.quick else (3000, 500)
    rows = []
    for widths, rank, center, nbeta in sizes:
        toy = DeepLinearNetwork(widths, rank, seed=0, center=center)
        scale = 1e3 / nbeta
        row = {"widths": widths, "rank": rank, "center": center, "nbeta": nbeta, "gamma": nbeta / 100,
               "params": toy.num_params, "lambda": toy.true_llc}
        for pre in ("none", "rmsprop"):
            base = SGLDConfig(step_size=FIXED_STEP * scale, gamma=nbeta / 100, nbeta=nbeta, num_chains=4,
                              num_draws=draws, burnin=draws, init_loss_batches=1, seed=0, check_every=100,
                              preconditioner=pre)
            for auto in (False, True):
                key = f"{'rmsprop' if pre == 'rmsprop' else 'plain'}_{'auto' if auto else 'fixed'}"
                row[key] = cell(toy, base, auto, scan_draws, MAX_STEP * scale)
                print(row["widths"], key, row[key], flush=True)
        rows.append(row)
    keys = ["plain_fixed", "plain_auto", "rmsprop_fixed", "rmsprop_auto"]
    # a failed cell (diverged, no stable ε) is an infinite error; JSON prints it as null
    err = {k: max(math.inf if r[k]["rel_err"] is None else abs(r[k]["rel_err"]) for r in rows) for k in keys}
    best = min(("plain_auto", "rmsprop_auto"), key=lambda k: err[k])
    finite = math.isfinite(err[best]) and math.isfinite(err["plain_fixed"]) and err["plain_fixed"] > 0
    ratio = round(err[best] / err["plain_fixed"], 3) if finite else None
    err = {k: None if math.isinf(v) else v for k, v in err.items()}
    print(json.dumps({"bench": "llc_dln", "ratio": ratio, "quick": args.quick,
                      "fixed_step_at_nbeta_1000": FIXED_STEP, "rows": rows, "max_abs_rel_err_by_sampler": err,
                      "recommended": best, "max_abs_rel_err": err[best],
                      "max_abs_rel_err_all": None if None in err.values() else max(err.values())}))


if __name__ == "__main__":
    main()

"""CPU seconds to resolve the quickstart's targeted χ rows: covariance vs coupled estimator.

Workload: ``specs/quickstart.pat`` (the tiny 2-layer attention-only LM on repeats / markov /
uniform) trained once, χ estimated at one checkpoint (``--at``, default 250) by each estimator,
``--reps`` times with the sampler's ``seed`` set to 1, 2, ... — each replicate re-draws the SGLD
noise, the minibatches *and* the probe sets (the probe seed derives from the sampler's seed). Only
the sample and susceptibility steps run (``execute(only=...)``), in this one process
(``PATTERNLANG_WORKERS=1``: chain groups and coupled chains are not spread over helper processes,
whose CPU time this process would not see), timed with ``time.process_time`` (one torch thread).

Per targeted row of the quickstart's patterning (``raise mean(ih)``, ``hold loss(markov)``), over
the components a step may move:

* ``z``: the mean movable-step |z| over replicates (the rule ``require resolved`` applies);
* ``cpu_to_resolve``: each estimator's CPU seconds per replicate × (3 / z)²: z grows as the square
  root of the draws, so that is the CPU it would take to reach |z| = 3;
* ``se_honesty``: the spread of the row's entries over the replicates ÷ their mean reported SE
  (1 is honest; the issue's band is 0.75–1.33; with R replicates the spread itself is uncertain by
  about 1/√(2(R − 1))).

Last line: JSON with ``bench``, ``ratio`` = ``cpu_ratio`` (covariance ÷ coupled CPU to resolve the
``raise`` row), per-row figures and ``se_honesty`` per estimator.

Usage: ``PYTHONPATH=. python bench/chi_efficiency.py [--reps 6] [--chains 8] [--draws 60]
[--at 250] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def spec_text(estimator: str, seed: int, at: int, chains: int, draws: int, train_steps: int) -> str:
    """The quickstart up to its patterning, χ at ``at`` with the given estimator and seed."""
    text = (ROOT / "specs" / "quickstart.pat").read_text().split("\nverify ")[0]
    text = re.sub(r"checkpoints = \[[^]]*\]", f"checkpoints = [{at}]", text)
    text = re.sub(r"steps = 500", f"steps = {train_steps}", text, count=1)
    text = re.sub(r"at = pretrain\.step\(\d+\)", f"at = pretrain.step({at})", text)
    text = re.sub(r"\n\s*##[^\n]*\n\s*(check|estimator) = [^\n]*", "", text)
    text = re.sub(r"\n\s*(check|estimator) = [^\n]*", "", text)
    text = re.sub(r"chains = \d+  draws = \d+", f"chains = {chains}  draws = {draws}  seed = {seed}", text)
    if estimator == "coupled":
        text = text.replace("  observe = [ih, prev, loss(repeats), loss(markov)]",
                            "  observe = [ih, prev, loss(repeats), loss(markov)]\n"
                            "  estimator = coupled(delta = 0.05)")
    return text


def replicate(estimator: str, seed: int, args, work: Path) -> dict:
    """One replicate: CPU seconds of sample + susceptibility and each targeted row."""
    from patternlang.compiler import compile_file
    from patternlang.compiler.checked_targets import checked_targets
    from patternlang.runtime.executor import execute
    from patternlang.runtime.results_types import ChiResult
    from patternlang.runtime.report import load_results
    from patternlang.runtime.rundir import RunDir
    from patternlang.runtime.services.target_rows import target_rows

    spec = work / f"{estimator}-{seed}.pat"
    spec.write_text(spec_text(estimator, seed, args.at, args.chains, args.draws, args.train_steps))
    plan = compile_file(str(spec))
    out = work / "run"  # one directory: the training is shared (same hash), sampling is not
    execute(plan, out, only=["train.pretrain"])
    t0 = time.process_time()
    execute(plan, out, only=["sample.chi", "susceptibility.chi"])
    cpu = time.process_time() - t0
    results, _ = load_results(RunDir(out), plan)
    chi = results["susceptibility.chi"]
    assert isinstance(chi, ChiResult)
    sample = plan.step("sample.chi")
    sample = sample.model_copy(update={"targets": checked_targets(sample, plan.steps)})
    rows = target_rows(sample, chi, plan)
    return {"cpu": cpu, "rows": {r.label: {"value": r.value.tolist(), "se": r.se.tolist(),
                                           "z": r.best_abs_z, "free": r.free.tolist()}
                                 for r in rows}}


def summarize(reps: list[dict]) -> dict:
    """Per row: mean movable |z|, CPU to |z| = 3, SE honesty over the free entries."""
    cpu = float(np.mean([r["cpu"] for r in reps]))
    out = {"cpu_per_replicate": cpu, "rows": {}}
    honesty = []
    for label in reps[0]["rows"]:
        free = np.array(reps[0]["rows"][label]["free"], bool)
        vals = np.array([r["rows"][label]["value"] for r in reps])[:, free]
        ses = np.array([r["rows"][label]["se"] for r in reps])[:, free]
        zs = [r["rows"][label]["z"] or 0.0 for r in reps]
        z = float(np.mean(zs))
        ratio = vals.std(0, ddof=1) / ses.mean(0)
        honesty += ratio.tolist()
        out["rows"][label] = {"z": z, "cpu_to_resolve": cpu * (3 / z) ** 2 if z > 0 else None,
                              "se_honesty": ratio.tolist()}
    out["se_honesty"] = float(np.median(honesty))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=6)
    p.add_argument("--chains", type=int, default=8)
    p.add_argument("--draws", type=int, default=60)
    p.add_argument("--at", type=int, default=250)
    p.add_argument("--train-steps", type=int, default=500)
    p.add_argument("--quick", action="store_true", help="2 replicates, 4 chains x 12 draws")
    args = p.parse_args()
    if args.quick:
        args.reps, args.chains, args.draws, args.at, args.train_steps = 2, 4, 12, 50, 60
    torch.set_num_threads(1)
    os.environ["PATTERNLANG_WORKERS"] = "1"  # every unit in this process: process_time sees it all
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for estimator in ("covariance", "coupled"):
            work = Path(tmp) / estimator
            work.mkdir()
            reps = [replicate(estimator, seed, args, work) for seed in range(1, args.reps + 1)]
            out[estimator] = summarize(reps)
            print(estimator, json.dumps(out[estimator]), flush=True)
    label = next(iter(out["coupled"]["rows"]))
    cov, cou = out["covariance"]["rows"][label], out["coupled"]["rows"][label]
    ratio = (cov["cpu_to_resolve"] / cou["cpu_to_resolve"]
             if cov["cpu_to_resolve"] and cou["cpu_to_resolve"] else None)
    print(json.dumps({"bench": "chi_efficiency", "ratio": ratio, "cpu_ratio": ratio, "row": label,
                      "reps": args.reps, "chains": args.chains, "draws": args.draws, "at": args.at,
                      "se_honesty": {k: v["se_honesty"] for k, v in out.items()},
                      "estimators": out}))


if __name__ == "__main__":
    main()

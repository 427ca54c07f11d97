"""Independent χ replicates of a spec at the same checkpoint: does the solve replicate?

Given a spec, runs its training once and then, ``--n`` times, every sample, susceptibility and
solve step with every sampler's ``seed`` set to 1, 2, ... — each replicate re-draws the SGLD noise,
the minibatches and the probe sets (the probe seed derives from the sampler's seed), and, with the
coupled estimator, its paired runs and posterior check. No pool is retrained and nothing is
verified. Printed per solve:

* per targeted row (the rows ``require resolved`` judges): each replicate's movable-step |z|, and per
  free component the spread of the row's entries over the replicates ÷ their mean reported SE (1 is
  honest; with n replicates the spread is itself uncertain by about 1/√(2(n − 1)));
* the pairwise cosines of the replicates' solved steps Δh (the issue 23 goal: >= 0.9) and each
  replicate's verdict on the targets.

Last line: JSON with ``bench`` = ``replicate``, ``ratio`` = the smallest pairwise cosine, and the
figures above per solve.

Usage: ``PYTHONPATH=. python bench/replicate.py SPEC [--n 3] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np


def reseeded(plan, seed: int):
    """The plan with every sampler's ``seed`` set to ``seed`` (training untouched)."""
    steps = []
    for s in plan.steps:
        if s.kind == "sample":
            s = s.model_copy(update={"sampler": s.sampler.model_copy(update={"seed": seed})})
        steps.append(s)
    return plan.model_copy(update={"steps": steps})


def replicate(plan, out: Path, seed: int) -> dict:
    """One replicate's solves: {solve id: {delta_h, rows, resolved}}."""
    from patternlang.compiler.checked_targets import checked_targets
    from patternlang.runtime.executor import execute
    from patternlang.runtime.report import load_results
    from patternlang.runtime.results_types import ChiResult, SolveResult
    from patternlang.runtime.rundir import RunDir
    from patternlang.runtime.services.target_rows import target_rows

    p = reseeded(plan, seed)
    ids = [s.id for s in p.steps if s.kind in ("sample", "susceptibility", "solve")]
    execute(p, out, only=ids)
    results, _ = load_results(RunDir(out), p)
    out_: dict = {}
    for s in p.steps:
        if s.kind != "solve" or s.id not in results:
            continue
        sol = results[s.id]
        assert isinstance(sol, SolveResult)
        first = sol.rounds[0].solution
        rows = {}
        for sid in s.susceptibilities:
            sus = p.step(sid)
            chi = results[sid]
            assert isinstance(chi, ChiResult)
            sample = p.step(sus.sample)  # the raise / lower / reach rows of its solves
            sample = sample.model_copy(update={"targets": checked_targets(sample, p.steps)})
            for r in target_rows(sample, chi, p):
                rows[r.label] = {"value": r.value.tolist(), "se": r.se.tolist(), "z": r.best_abs_z,
                                 "free": r.free.tolist() if r.free is not None else None}
        out_[s.id] = {"delta_h": first.delta_h, "rows": rows,
                      "resolved": {t.label: t.resolved for t in first.resolved}}
    return out_


def summarize(reps: list[dict]) -> dict:
    """Per solve: the rows' z and SE honesty, the pairwise cosines of the solved steps."""
    out = {}
    for sid in reps[0]:
        steps = [np.array(list((r[sid]["delta_h"] or {}).values()), float) for r in reps]
        cos = [float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
               for a, b in itertools.combinations(steps, 2)
               if np.linalg.norm(a) > 0 and np.linalg.norm(b) > 0]
        rows = {}
        for label in reps[0][sid]["rows"]:
            vals = np.array([r[sid]["rows"][label]["value"] for r in reps])
            ses = np.array([r[sid]["rows"][label]["se"] for r in reps])
            free = reps[0][sid]["rows"][label]["free"]
            free = np.ones(vals.shape[1], bool) if free is None else np.array(free, bool)
            ratio = vals[:, free].std(0, ddof=1) / ses[:, free].mean(0) if len(reps) > 1 else []
            rows[label] = {"z": [r[sid]["rows"][label]["z"] for r in reps],
                           "se_honesty": np.asarray(ratio).tolist()}
        out[sid] = {"cosines": cos, "min_cosine": min(cos) if cos else None, "rows": rows,
                    "resolved": [r[sid]["resolved"] for r in reps]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    args = ap.parse_args()
    import torch

    from patternlang.compiler import compile_file
    from patternlang.runtime.executor import execute

    torch.set_num_threads(1)
    plan = compile_file(args.spec)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        execute(plan, out, only=[s.id for s in plan.steps if s.kind == "train"])
        reps = []
        for seed in range(1, args.n + 1):
            reps.append(replicate(plan, out, seed))
            print(f"replicate seed {seed}:", json.dumps(reps[-1]), flush=True)
        summary = summarize(reps)
    for sid, s in summary.items():
        print(f"{sid}: pairwise cosines of the solved steps {['%.3f' % c for c in s['cosines']]}")
        for label, r in s["rows"].items():
            zs = ", ".join("n/a" if z is None else f"{z:.1f}" for z in r["z"])
            print(f"  {label}: movable-step |z| per replicate {zs}; spread / SE per free component "
                  f"{['%.2f' % x for x in r['se_honesty']]}")
    mins = [s["min_cosine"] for s in summary.values() if s["min_cosine"] is not None]
    print(json.dumps({"bench": "replicate", "ratio": min(mins) if mins else None, "n": args.n,
                      "spec": args.spec, "solves": summary}))


if __name__ == "__main__":
    main()

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
  replicate's verdict on the targets;
* with ``--verify``: each replicate's weights retrained — every verify step with its arms cut to
  ``baseline`` and ``patterned`` (same seeds, steps and onsets as the spec), its onsets per arm and
  the realized change at the horizon per tracked observable, beside the prediction.

Last line: JSON with ``bench`` = ``replicate``, ``ratio`` = the smallest pairwise cosine, and the
figures above per solve.

Usage: ``PYTHONPATH=. python bench/replicate.py SPEC [--n 3] [--out DIR] [--verify] [--reference RUN]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np


def reseeded(plan, seed: int):
    """The plan with every sampler's ``seed`` set to ``seed`` (training untouched) and every verify
    step cut to its ``baseline`` and ``patterned`` arms (no random or regression arms)."""
    steps = []
    for s in plan.steps:
        if s.kind == "sample":
            s = s.model_copy(update={"sampler": s.sampler.model_copy(update={"seed": seed})})
        elif s.kind == "verify":
            s = s.model_copy(update={"arms": ["baseline", "patterned"], "random": 0,
                                     "regression": None})
        steps.append(s)
    return plan.model_copy(update={"steps": steps})


def verified(result) -> dict:
    """A verify result's onsets per arm and its predicted vs realized changes at the horizon."""
    onsets = {arm: {name: {"per_seed": o.per_seed, "mean": o.mean, "absent": o.absent,
                           "censored_mean": o.censored_mean}
                    for name, o in a.onset.items()}
              for arm, a in result.arms.items()}
    calib = {c.observable: {"predicted": c.predicted, "se": c.se, "realized": c.realized}
             for c in result.calibration}
    return {"onsets": onsets, "calibration": calib}


def replicate(plan, out: Path, seed: int, verify: bool = False) -> dict:
    """One replicate's solves: {solve id: {delta_h, rows, resolved[, verified]}}."""
    from patternlang.runtime.executor import execute

    p = reseeded(plan, seed)
    kinds = ("sample", "susceptibility", "solve") + (("verify",) if verify else ())
    execute(p, out, only=[s.id for s in p.steps if s.kind in kinds])
    return solves(p, out)


def solves(plan, out: Path) -> dict:
    """A run directory's solves: {solve id: {delta_h, rows, resolved[, verified]}}."""
    from patternlang.compiler.checked_targets import checked_targets
    from patternlang.runtime.report import load_results
    from patternlang.runtime.results_types import ChiResult, SolveResult, VerifyResult
    from patternlang.runtime.rundir import RunDir
    from patternlang.runtime.services.target_rows import target_rows

    results, _ = load_results(RunDir(out), plan)
    out_: dict = {}
    for s in plan.steps:
        if s.kind != "solve" or s.id not in results:
            continue
        sol = results[s.id]
        assert isinstance(sol, SolveResult)
        first = sol.rounds[0].solve
        rows = {}
        for sid in s.susceptibilities:
            sus = plan.step(sid)
            chi = results[sid]
            assert isinstance(chi, ChiResult)
            sample = plan.step(sus.sample)  # the raise / lower / reach rows of its solves
            sample = sample.model_copy(update={"targets": checked_targets(sample, plan.steps)})
            for r in target_rows(sample, chi, plan):
                rows[r.label] = {"value": r.value.tolist(), "se": r.se.tolist(), "z": r.best_abs_z,
                                 "free": r.free.tolist() if r.free is not None else None}
        out_[s.id] = {"delta_h": first.delta_h, "rows": rows,
                      "resolved": {t.label: t.resolved for t in first.resolved}}
    for s in plan.steps:
        if s.kind == "verify" and s.id in results and s.solve in out_:
            ver = results[s.id]
            assert isinstance(ver, VerifyResult)
            out_[s.solve]["verified"] = verified(ver)
    return out_


def summarize(reps: list[dict]) -> dict:
    """Per solve: the rows' z and SE honesty, the pairwise cosines of the solved steps."""
    from patternlang.engine.directions import step_cosine

    out = {}
    for sid in reps[0]:
        pairs = itertools.combinations([r[sid]["delta_h"] or {} for r in reps], 2)
        cos = [c for c in (step_cosine(a, b) for a, b in pairs) if c is not None]
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
        if any("verified" in r[sid] for r in reps):
            out[sid]["verified"] = [r[sid].get("verified") for r in reps]
    return out


def _num(x) -> str:
    return "n/a" if x is None else f"{x:+.3g}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    ap.add_argument("--reference", default=None,
                    help="a finished run directory of the same spec (its own sampler seeds): taken "
                         "as the first of the compared χ, so --n 2 gives three")
    ap.add_argument("--verify", action="store_true",
                    help="retrain each replicate's weights: baseline and patterned arms")
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
            reps.append(replicate(plan, out, seed, verify=args.verify))
            print(f"replicate seed {seed}:", json.dumps(reps[-1]), flush=True)
        if args.reference:  # the finished run is one more independent χ (the spec's own seeds)
            ref = solves(plan, Path(args.reference))
            missing = [sid for sid in reps[0] if sid not in ref]
            if missing:
                raise SystemExit(f"--reference {args.reference}: no finished {missing} for this spec")
            reps.insert(0, ref)
        summary = summarize(reps)
    labels = (["reference"] if args.reference else []) + [f"seed {k}" for k in range(1, args.n + 1)]
    for sid, s in summary.items():
        print(f"{sid}: pairwise cosines of the solved steps {['%.3f' % c for c in s['cosines']]}")
        for label, r in s["rows"].items():
            zs = ", ".join("n/a" if z is None else f"{z:.1f}" for z in r["z"])
            print(f"  {label}: movable-step |z| per replicate {zs}; spread / SE per free component "
                  f"{['%.2f' % x for x in r['se_honesty']]}")
        for name, v in zip(labels, s.get("verified", [])):
            if v is None:
                continue
            for arm, ons in v["onsets"].items():
                text = "; ".join(f"{n}: {o['per_seed']} (absent {o['absent']})"
                                 for n, o in ons.items())
                print(f"  {name} verified, {arm}: onset {text}")
            for obs, c in v["calibration"].items():
                print(f"  {name} {obs}: predicted {_num(c['predicted'])}, "
                      f"realized {_num(c['realized'])}")
    mins = [s["min_cosine"] for s in summary.values() if s["min_cosine"] is not None]
    print(json.dumps({"bench": "replicate", "ratio": min(mins) if mins else None, "n": args.n,
                      "labels": labels,
                      "spec": args.spec, "solves": summary}))


if __name__ == "__main__":
    main()

"""Both estimators side by side on a spec's targeted rows (issue 23).

Runs the spec's sample, susceptibility and solve steps twice on one training — once as written
(the coupled estimator where the spec asks for it) and once with every ``estimator`` removed (the
covariance estimator on the same sampler settings) — and prints per solve and target the
movable-step |z| (docs/solver.md#resolved-on-the-movable-step), its degrees of freedom, whether it
is resolved, and the solved step Δh of each, with their cosine. Nothing is verified.

Usage: ``PYTHONPATH=. python examples/replicate/estimators.py SPEC --out DIR``; last line JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def covariance_only(plan):
    """The plan with every susceptibility's ``estimator`` removed (covariance χ)."""
    steps = [s.model_copy(update={"estimator": None}) if s.kind == "susceptibility" else s
             for s in plan.steps]
    return plan.model_copy(update={"steps": steps})


def solved(plan, out: Path) -> dict:
    """Per solve: the targets' movable-step |z| and the solved step (first round)."""
    from patternlang.runtime.executor import execute
    from patternlang.runtime.report import load_results
    from patternlang.runtime.rundir import RunDir

    execute(plan, out, only=[s.id for s in plan.steps
                             if s.kind in ("train", "sample", "susceptibility", "solve")])
    results, _ = load_results(RunDir(out), plan)
    found = {}
    for s in plan.steps:
        if s.kind == "solve" and s.id in results:
            sol = results[s.id].rounds[0].solve
            found[s.id] = {"delta_h": sol.delta_h or {},
                           "targets": {t.label: {"movable_z": t.movable_z, "dof": t.dof,
                                                 "resolved": t.resolved, "kind": t.kind}
                                       for t in sol.resolved}}
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import torch

    from patternlang.compiler import compile_file
    from patternlang.engine.directions import step_cosine

    torch.set_num_threads(1)
    plan = compile_file(args.spec)
    as_written = solved(plan, Path(args.out))
    covariance = solved(covariance_only(plan), Path(args.out))
    for sid, a in as_written.items():
        c = covariance[sid]
        print(f"{sid}: cosine of the two solved steps {step_cosine(a['delta_h'], c['delta_h'])}")
        for label, t in a["targets"].items():
            u = c["targets"].get(label, {})
            print(f"  {label}: as written |z| {t['movable_z']} (dof {t['dof']}, resolved "
                  f"{t['resolved']}); covariance |z| {u.get('movable_z')} (resolved "
                  f"{u.get('resolved')})")
    print(json.dumps({"spec": args.spec, "as_written": as_written, "covariance": covariance}))


if __name__ == "__main__":
    main()

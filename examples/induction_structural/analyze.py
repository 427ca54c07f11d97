"""Summarize a run of specs/induction_structural.pat: which heads are induction heads (at step 600),
the component susceptibility matrix's resolution and standardized PCA, whether a PC separates the
induction heads, and the onsets of the verification arms (per-sample along the PC vs 12 random
per-sample re-weightings of the same KL vs component-level).

Usage: PYTHONPATH=$PWD python examples/induction_structural/analyze.py RUN_DIR [--threshold 0.3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from patternlang.engine.component_chi import component_pca, separation


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--pca", default="components", choices=["components", "tokens", "pool windows"],
                    help="columns of the PCA (the spec's pca = components)")
    ap.add_argument("--threshold", type=float, default=0.3, help="induction score of an induction head")
    args = ap.parse_args()
    res = json.loads((args.run / "results.json").read_text())
    ih = res["observations"]["observe.formed"]["mean"]
    heads = [k[3:-1] for k, v in ih.items() if v >= args.threshold]
    print("induction score at step 600:", {k: round(v, 3) for k, v in ih.items()}, "-> induction heads", heads)
    d = max((p for p in (args.run / "steps").iterdir() if p.name.rsplit("-", 1)[0] == "susceptibility-heads"),
            key=lambda p: p.stat().st_mtime)  # the latest (a re-run with other settings keeps the old)
    z = np.load(d / "component_chi.npz")
    names, chi, se = [str(n) for n in z["names"]], z["chi"], z["se"]
    rows = [str(r) for r in z["rows"]][: chi.shape[0]]
    groups = {"components": [i for i, n in enumerate(names) if "[" not in n],
              "tokens": [i for i, n in enumerate(names) if "@" in n],
              "pool windows": [i for i, n in enumerate(names) if "[" in n and "@" not in n]}
    for g, idx in groups.items():
        if idx:
            zz = np.abs(chi[:, idx]) / se[:, idx]
            print(f"{g}: {len(idx)} columns, |z|>3: {np.mean(zz > 3):.1%}, median |z| {np.median(zz):.2f} "
                  "(0.67 for pure noise)")
    print("chi/SE, component columns:", [names[i] for i in groups["components"]])
    for r, row in zip(rows, (chi / se)[:, groups["components"]]):
        print(f"  {r}: {np.round(row, 1).tolist()}")
    pca = component_pca(chi[:, groups[args.pca]], rows)
    for s in separation(pca, heads):
        load = dict(zip(rows, np.round(pca.loadings[s["pc"]], 2).tolist()))
        print(f"PC{s['pc']} ({s['explained']:.0%}): separates={s['separates']} margin={s['margin']:+.2f} "
              f"gap={s['gap']:.2f} loadings={load}")
    for v, ver in res.get("verification", {}).items():
        onset = {arm: next(iter(a["onset"].values()), None) for arm, a in ver["arms"].items()}
        on = {arm: (o["censored_mean"] if o else None) for arm, o in onset.items()}
        print(f"{v}: onset (censored mean over seeds; per seed)")
        for arm, o in onset.items():
            print(f"  {arm}: {on[arm]} {o['per_seed'] if o else ''}")
        base, pat = on.get("baseline"), on.get("patterned")
        if base and pat is not None:
            print(f"  patterned vs baseline: {pat - base:+.1f} steps ({(pat - base) / base:+.1%})")
        rand = [x for arm, x in on.items() if arm.startswith("random") and x is not None]
        if rand and pat is not None:
            earlier = sum(pat < r for r in rand)
            later = sum(pat > r for r in rand)
            print(f"  patterned earlier than {earlier}/{len(rand)} random arms, later than {later}; "
                  f"random arms: mean {np.mean(rand):.1f}, sd {np.std(rand, ddof=1):.1f}")

if __name__ == "__main__":
    main()

"""Print the README's tables from a run directory of specs/parentheses.pat (or its CI size).

    PYTHONPATH=. python examples/parentheses/tables.py RUN_DIR

Reads ``results.json`` and the train pool's per-seed curves; prints markdown. Steps that have not
run yet are skipped, so it also works on a partial run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from patternlang.results import Results

import numpy as np


def _fmt(x: float) -> str:
    return f"{x:+.4f}" if abs(x) < 100 else f"{x:+.1f}"


def pool_split(run: Path, threshold: float = 0.75) -> None:
    for tdir in sorted((run / "steps").glob("train-pool-*")):
        rows, n_n, n_e = [], 0, 0
        for cf in sorted(tdir.glob("seed*/curve.json"), key=lambda p: int(p.parent.name[4:])):
            c = json.loads(cf.read_text())
            last = c["curve"]["values"][-1]
            rule = ("NESTED" if last["nested"] >= threshold else
                    "EQUAL-COUNT" if last["equal_count"] >= threshold else "neither")
            n_n += rule == "NESTED"
            n_e += rule == "EQUAL-COUNT"
            loss = float(np.mean(c["loss"][-20:]))
            rows.append(f"| {cf.parent.name} | {last['nested']:.3f} | {last['equal_count']:.3f} | "
                        f"{loss:.4f} | {rule} |")
        print(f"Baseline pool: NESTED {n_n}/{len(rows)}, EQUAL-COUNT {n_e}/{len(rows)}\n")
        print("| seed | nested agreement | equal-count agreement | train loss (last 20 steps) | rule |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(rows) + "\n")


def llcs(doc: dict) -> None:
    print("| group | seed | selected by | LLC | se | R-hat |\n| --- | --- | --- | --- | --- | --- |")
    for sid, s in doc["llc"].items():
        for c in s["centers"]:
            sel = ", ".join(f"{k} {v:.3f}" for k, v in (c.get("selected_by") or {}).items())
            rh = c.get("rhat")
            print(f"| {sid} | {c['seed']} | {sel} | {c['llc_mean']:.2f} | {c['llc_se']:.2f} | "
                  f"{rh if rh is None else round(rh, 3)} |")
    print()


def chis(doc: dict) -> None:
    for sid, s in doc["susceptibilities"].items():
        comps = s["components"]
        print(f"`{sid}` (nβ = {s['nbeta']:.2f}): χ ± se\n")
        print("| observable | " + " | ".join(comps) + " |\n| --- |" + " --- |" * len(comps))
        for name, row, se in zip(s["observables"], s["chi"], s["chi_se"]):
            print(f"| {name} | " + " | ".join(f"{_fmt(v)} ± {e:.4f}" for v, e in zip(row, se)) + " |")
        print()


def solutions(doc: dict) -> None:
    for sid, res in doc["solves"].items():
        base, sol = res["baseline"], res["rounds"][-1]["solve"]
        print(f"`{sid}`: status {sol['status']}")
        for t in sol.get("targets", []):
            print(f"  target {t.get('label')}: desired {t.get('desired')}, predicted "
                  f"{t.get('predicted')}")
        w = res["final_weights"]
        print("  weights: " + ", ".join(
            f"{k} {base[k]:.3f}->{v:.3f}" if base else f"{k} {v:.3f}" for k, v in w.items()) + "\n")


def verification(doc: dict) -> None:
    print("| verify | arm | NESTED at horizon | EQUAL-COUNT at horizon | mean nested | mean equal_count |")
    print("| --- | --- | --- | --- | --- | --- |")
    for vid, v in doc["verification"].items():
        for arm, a in v["arms"].items():
            cells = []
            for rule in ("nested", "equal_count"):
                h = a["onset"].get(rule, {}).get("final_holds") or []
                cells.append(f"{sum(h)}/{len(h)}")
            fin = a["final"]
            print(f"| {vid} | {arm} | {cells[0]} | {cells[1]} | {fin['nested']['mean']:.3f} | "
                  f"{fin['equal_count']['mean']:.3f} |")
        for c in v.get("calibration", []):
            print(f"  calibration {vid} {c['observable']}: predicted {c['predicted']:+.4g}, "
                  f"realized {c['realized']:+.4g}, sign agrees {c['sign_agrees']}")
    print()


def main(run: Path) -> None:
    pool_split(run)
    res = run / "results.json"
    if not res.exists():
        return
    doc = Results.load(run).data  # any schema, read as the current one
    llcs(doc)
    chis(doc)
    solutions(doc)
    verification(doc)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

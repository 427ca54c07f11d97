"""Tables for the third attempt (``specs/parentheses_early.pat``): chi of the rule observables at
step 100, its per-component reading next to the retraining effects measured by ``components.py``,
the solved weights and the verification fractions.

    PYTHONPATH=. python examples/parentheses/early.py runs/early
    PYTHONPATH=. python examples/parentheses/early.py runs/early susceptibility.fork_chi_cold
    PYTHONPATH=. python examples/parentheses/early.py runs/fork150   # examples/parentheses/fork150.pat

The per-tilt prediction is chi . d for the direction d of ``components.tilted(k, 0.1)``; its se
treats the entries of a chi row as independent (sqrt(sum (se_k d_k)^2)), which ignores their
covariance across centers: a rough scale, not an exact interval.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.stats import spearmanr

from patternlang.results import Results

from examples.parentheses.components import BASE, tilted

SUS = "susceptibility.fork_chi"
## Δ NESTED seeds of 8 (baseline 5/8) per +0.1 tilt, measured by components.py (README table).
RETRAIN = {"pos": -1, "flat": -4, "early": -3, "late": -5, "closing": -1}


def chi_table(s: dict, centers: int | str = "?") -> None:
    comps = s["components"]
    print(f"`{SUS}` (nβ = {s['nbeta']:.2f}, {s.get('centers', centers)} centers): χ ± se\n")
    print("| observable | " + " | ".join(comps) + " |\n| --- |" + " --- |" * len(comps))
    for i, o in enumerate(s["observables"]):
        cells = [f"{c:+.4f} ± {e:.4f}" for c, e in zip(s["chi"][i], s["chi_se"][i])]
        print(f"| {o} | " + " | ".join(cells) + " |")
    print()


def tilt_table(s: dict, delta: float = 0.1) -> None:
    chi, se = np.asarray(s["chi"]), np.asarray(s["chi_se"])
    obs, comps = s["observables"], s["components"]
    rows, margin = [], []
    for k in BASE:
        d = np.array([tilted(k, delta)[c] - BASE[c] for c in comps])
        pred = chi @ d
        err = np.sqrt((se ** 2) @ (d ** 2))
        m = pred[obs.index("nested")] - pred[obs.index("equal_count")]
        margin.append(m)
        rows.append((k, pred, err, m))
    print(f"| component (+{delta:.2f}) | " + " | ".join(f"Δ {o}" for o in obs)
          + " | Δ(nested − equal_count) | retraining Δ NESTED (of 8) |\n| --- |"
          + " --- |" * (len(obs) + 2))
    for k, pred, err, m in rows:
        cells = [f"{p:+.4f} ± {e:.4f}" for p, e in zip(pred, err)]
        print(f"| {k} | " + " | ".join(cells) + f" | {m:+.4f} | {RETRAIN[k]:+d} |")
    dn = [r[1][obs.index("nested")] for r in rows]
    rho_n = spearmanr(dn, [RETRAIN[k] for k in BASE]).statistic
    rho_m = spearmanr(margin, [RETRAIN[k] for k in BASE]).statistic
    print(f"\nSpearman(Δ nested, retraining Δ NESTED) = {rho_n:+.2f}; "
          f"Spearman(Δ(nested − equal_count), retraining) = {rho_m:+.2f}")
    print("χ ranking by Δ nested (most NESTED first): "
          + " > ".join(k for _, k in sorted(zip(dn, BASE), reverse=True)))
    print("retraining ranking (most NESTED first): "
          + " > ".join(sorted(BASE, key=lambda k: -RETRAIN[k])) + "\n")


def solutions(doc: dict) -> None:
    comps = list(BASE)
    print("| target | status | predicted (desired) | " + " | ".join(comps) + " |\n| --- | --- | --- |"
          + " --- |" * len(comps))
    print("| baseline | | | " + " | ".join(f"{BASE[c]:.4f}" for c in comps) + " |")
    for sid, res in doc.get("solves", {}).items():
        sol = res["rounds"][0]["solve"]
        t, w = sol["targets"][0], res["final_weights"]
        print(f"| {sid} | {sol['status']} | {t['predicted']:+.4f} ± {t['se']:.4f} ({t['desired']:+.2f}) | "
              + " | ".join(f"{w[c]:.4f}" for c in comps) + " |")
        for o, p in res["predicted"].items():
            print(f"|   predicted {o} | | {p['change']:+.4f} ± {p['se']:.4f} |" + " |" * len(comps))
    print()


def verification(doc: dict) -> None:
    print("| verify | arm | nested ≥ .75 at 300 | equal_count ≥ .75 at 300 | mean nested ± sd | mean equal_count |")
    print("| --- | --- | --- | --- | --- | --- |")
    for vid, v in doc.get("verification", {}).items():
        for arm, a in v["arms"].items():
            on, fin = a["onset"], a["final"]
            n = len(a["seeds"])
            fn = round(on["nested"]["final_fraction"] * n)
            fe = round(on["equal_count"]["final_fraction"] * n)
            print(f"| {vid} | {arm} | {fn}/{n} | {fe}/{n} | {fin['nested']['mean']:.3f} ± "
                  f"{fin['nested']['sd']:.3f} | {fin['equal_count']['mean']:.3f} |")
        for c in v.get("calibration", []):
            print(f"|   calibration {c['observable']} | predicted {c['predicted']:+.4f} | realized "
                  f"{c['realized']:+.4f} | sign agrees {c['sign_agrees']} | | |")
    print()


def main(run_dir: str, sus: str = SUS) -> None:
    global SUS
    SUS = sus
    doc = Results.load(run_dir).data  # any schema, read as the current one
    s = doc["susceptibilities"][SUS]
    chi_table(s, len(doc["llc"][SUS.replace("susceptibility.", "sample.")]["centers"]))
    tilt_table(s)
    solutions(doc)
    verification(doc)


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""LDS of other susceptibilities over the same retrained arms (see lds_diagnosis.pat).

Usage: python examples/quickstart/lds_diagnosis.py RUN_WITH_ARMS RUN_WITH_CHI

For every susceptibility in RUN_WITH_CHI, the predicted change of mean(ih) of each arm of
RUN_WITH_ARMS (nβ·χ·(h_arm − h0), mean over the ih rows, with its SE) is ranked against the realized
change the validation summary used (arm − baseline at its evaluation step), as in
docs/validation.md: Spearman, and sign agreement over the arms whose prediction exceeds its SE.
"""

from __future__ import annotations

import sys

import numpy as np

from patternlang.engine.validation import sign_agreement, spearman
from patternlang.results import Results


def main(arms_run: str, chi_run: str) -> None:
    r = Results.load(arms_run).data  # any schema, read as the current one
    v = next(iter(r["verification"].values()))
    val = v["validation"]
    real = {p["arm"]: p["realized"] for p in val["points"] if p["target"] == val["lds_target"]}
    sol = next(iter(r["solves"].values()))
    h0 = sol.get("baseline") or sol["h0"]  # results schema 2 or 1
    sus = Results.load(chi_run).data["susceptibilities"]
    sus = {"(the run's own) " + k: s for k, s in r["susceptibilities"].items()} | sus
    print(f"realized: change of {val['lds_target']} at step {val['evaluated_at']}; "
          f"{len(real)} arms\n")
    print("| susceptibility | LDS (Spearman) | sign agreement | resolved arms | ih row entries ± SE |")
    print("| --- | --- | --- | --- | --- |")
    for sid, s in sus.items():
        rows = np.array([o.startswith("ih[") for o in s["observables"]], float)
        t = rows / rows.sum()
        resp, se = s["nbeta"] * np.asarray(s["chi"]), s["nbeta"] * np.asarray(s["chi_se"])
        pred, pse, got = [], [], []
        for arm, x in real.items():
            dh = np.array([v["arms"][arm]["weights"][c] - h0[c] for c in s["components"]])
            pred.append(float(t @ resp @ dh))
            pse.append(float(np.sqrt((t**2) @ (se**2) @ (dh**2))))
            got.append(x)
        agree, n = sign_agreement(pred, pse, got)
        row = t @ np.asarray(s["chi"])
        row_se = np.sqrt((t**2) @ np.asarray(s["chi_se"]) ** 2)
        entries = ", ".join(f"{c} {m:+.2e} ± {e:.1e}" for c, m, e in zip(s["components"], row, row_se))
        lds = spearman(pred, got)
        print(f"| {sid} | {lds:+.2f} | {agree if agree is None else f'{agree:.0%}'} | {n} | {entries} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Per-component retraining check of chi's predicted direction (outside the pipeline).

For each component k, tilt the baseline mixture of ``specs/parentheses.pat`` towards k by ``delta``
(the other negative kinds give up weight in proportion, so weight(pos) stays 0.5; for ``pos``
itself the negatives give up weight in proportion), retrain the same seeds with the spec's settings
(bidirectional 2 layers, 4 heads, d_model 32, AdamW lr 3e-3, weight decay 1e-3, batch 64, 300
steps) and count seeds with nested agreement >= 0.75 (NESTED) and equal-count agreement >= 0.75
(EQUAL-COUNT) on the pipeline's rule probe. Compare with chi's prediction: the change of
F(NESTED) - F(EQUAL-COUNT) along the same direction for the local free energy ``free`` and for the
LLC ``complexity`` alone, read from a run directory's ``results.json`` (lower gap => NESTED
predicted more often).

    OMP_NUM_THREADS=1 PYTHONPATH=. python examples/parentheses/components.py runs/parens 16 0.1

With 0 seeds it only prints chi's predictions (no training), including the observable rows:
the change of nested agreement at the NESTED centers and of equal-count agreement at the
EQUAL-COUNT centers along each tilt.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from examples.parentheses.explore import run  # noqa: E402  (same training loop and probe)

BASE = {"pos": 0.5, "flat": 0.0125, "early": 0.1625, "late": 0.1625, "closing": 0.1625}
OPT = {"causal": False, "heads": 4, "lr": 3e-3, "wd": 1e-3}
THRESHOLD = 0.75


def tilted(k: str, delta: float) -> dict[str, float]:
    """The baseline moved by ``delta`` towards component ``k``, keeping the total at 1."""
    others = [c for c in BASE if c != k and (k == "pos" or c != "pos")]
    mass = sum(BASE[c] for c in others)
    w = dict(BASE)
    w[k] += delta
    for c in others:
        w[c] -= delta * BASE[c] / mass
    return w


def predicted_gap(doc: dict, w: dict[str, float], obs: str = "free") -> float:
    """chi_n.obs . d - chi_e.obs . d for the direction d = w - BASE."""
    out = 0.0
    for sid, sign in (("susceptibility.chi_n", 1.0), ("susceptibility.chi_e", -1.0)):
        s = doc["susceptibilities"][sid]
        row = np.asarray(s["chi"])[s["observables"].index(obs)]
        d = np.array([w[c] - BASE[c] for c in s["components"]])
        out += sign * float(row @ d)
    return out


def predicted_observables(doc: dict, w: dict[str, float]) -> tuple[float, float]:
    """(chi_n.nested . d, chi_e.equal_count . d) for the direction d = w - BASE."""
    out = []
    for sid, obs in (("susceptibility.chi_n", "nested"), ("susceptibility.chi_e", "equal_count")):
        s = doc["susceptibilities"][sid]
        row = np.asarray(s["chi"])[s["observables"].index(obs)]
        out.append(float(row @ np.array([w[c] - BASE[c] for c in s["components"]])))
    return out[0], out[1]


def chi_only(doc: dict, delta: float) -> None:
    print(f"| component (+{delta:.2f}) | Δ(F_n − F_e) | Δ(LLC_n − LLC_e) | Δ nested at NESTED centers "
          "| Δ equal_count at EQUAL-COUNT centers |\n| --- | --- | --- | --- | --- |")
    for k in BASE:
        w = tilted(k, delta)
        dn, de = predicted_observables(doc, w)
        print(f"| {k} | {predicted_gap(doc, w):+.3f} | {predicted_gap(doc, w, 'complexity'):+.3f} "
              f"| {dn:+.4f} | {de:+.4f} |")


def rule_counts(weights: dict[str, float], seeds: int) -> tuple[int, int]:
    """(NESTED, EQUAL-COUNT) seeds of ``seeds`` retrained on ``weights``."""
    rules = [run(weights, s, 300, **OPT)[2][-1][1] for s in range(seeds)]
    return (sum(r["nested"] >= THRESHOLD for r in rules),
            sum(r["equal"] >= THRESHOLD for r in rules))


def main(run_dir: Path, seeds: int, delta: float) -> None:
    torch.set_num_threads(1)
    doc = json.loads((run_dir / "results.json").read_text())
    if seeds == 0:
        chi_only(doc, delta)
        return
    t = time.time()
    k0, e0 = rule_counts(BASE, seeds)
    print(f"baseline: NESTED {k0}/{seeds}, EQUAL-COUNT {e0}/{seeds}", flush=True)
    print(f"| component (+{delta:.2f}) | predicted Δ(F_n − F_e) | predicted Δ(LLC_n − LLC_e) "
          "| NESTED / EQUAL-COUNT seeds | Δ NESTED | sign agrees (F / LLC) |")
    print("| --- | --- | --- | --- | --- | --- |")
    preds: dict[str, list[float]] = {"free": [], "complexity": []}
    real = []
    for k in BASE:
        w = tilted(k, delta)
        kk, ee = rule_counts(w, seeds)
        real.append(kk - k0)
        agree = []
        for obs in preds:
            gap = predicted_gap(doc, w, obs)
            preds[obs].append(gap)
            agree.append("—" if kk == k0 else ("yes" if (gap < 0) == (kk > k0) else "no"))
        print(f"| {k} | {preds['free'][-1]:+.3f} | {preds['complexity'][-1]:+.3f} | {kk} / {ee} "
              f"| {kk - k0:+d} | {' / '.join(agree)} |", flush=True)
    from scipy.stats import spearmanr
    for obs, p in preds.items():
        rho = spearmanr(-np.array(p), np.array(real)).statistic
        print(f"Spearman rank correlation of −predicted Δ({obs}_n − {obs}_e) with Δ NESTED: {rho:+.2f}")
    print(f"({time.time() - t:.0f}s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))

"""Per-component retraining check of chi's predicted direction (outside the pipeline).

For each component k, tilt the baseline mixture of ``specs/parentheses.pat`` towards k by ``delta``
(the other negative kinds give up weight in proportion, so weight(pos) stays 0.5; for ``pos``
itself the negatives give up weight in proportion), retrain the same seeds with the spec's settings
(bidirectional 2 layers, 4 heads, d_model 32, AdamW lr 3e-3, weight decay 1e-3, batch 64, 300
steps) and count seeds with nested agreement >= 0.75 (NESTED) on the pipeline's rule probe. Compare
with chi's prediction: the change of LLC(NESTED) - LLC(EQUAL-COUNT) along the same direction, read
from a run directory's ``results.json`` (lower gap => NESTED predicted more often).

    OMP_NUM_THREADS=1 PYTHONPATH=. python examples/parentheses/components.py runs/parens 8 0.1

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


def predicted_gap(doc: dict, w: dict[str, float]) -> float:
    """chi_n.complexity . d - chi_e.complexity . d for the direction d = w - BASE."""
    out = 0.0
    for sid, sign in (("susceptibility.chi_n", 1.0), ("susceptibility.chi_e", -1.0)):
        s = doc["susceptibilities"][sid]
        row = np.asarray(s["chi"])[s["observables"].index("complexity")]
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
    print(f"| component (+{delta:.2f}) | Δ(LLC_n − LLC_e) | Δ nested at NESTED centers | "
          "Δ equal_count at EQUAL-COUNT centers |\n| --- | --- | --- | --- |")
    for k in BASE:
        w = tilted(k, delta)
        dn, de = predicted_observables(doc, w)
        print(f"| {k} | {predicted_gap(doc, w):+.3f} | {dn:+.4f} | {de:+.4f} |")


def nested_count(weights: dict[str, float], seeds: int) -> tuple[int, list[float]]:
    ns = []
    for s in range(seeds):
        _, _, ev = run(weights, s, 300, **OPT)
        ns.append(ev[-1][1]["nested"])
    return sum(n >= THRESHOLD for n in ns), ns


def main(run_dir: Path, seeds: int, delta: float) -> None:
    torch.set_num_threads(1)
    doc = json.loads((run_dir / "results.json").read_text())
    if seeds == 0:
        chi_only(doc, delta)
        return
    t = time.time()
    k0, n0 = nested_count(BASE, seeds)
    print(f"baseline: NESTED {k0}/{seeds} (nested agreement {np.round(n0, 2).tolist()})", flush=True)
    print("| component (+%.2f) | predicted Δ(LLC_n − LLC_e) | NESTED seeds | Δ NESTED | sign agrees |"
          % delta)
    print("| --- | --- | --- | --- | --- |")
    preds, real = [], []
    for k in BASE:
        w = tilted(k, delta)
        gap = predicted_gap(doc, w)
        kk, _ = nested_count(w, seeds)
        preds.append(gap)
        real.append(kk - k0)
        agree = "—" if kk == k0 else ("yes" if (gap < 0) == (kk > k0) else "no")
        print(f"| {k} | {gap:+.3f} | {kk}/{seeds} | {kk - k0:+d} | {agree} |", flush=True)
    from scipy.stats import spearmanr
    rho = spearmanr(-np.array(preds), np.array(real)).statistic
    print(f"\nSpearman rank correlation of −predicted gap change with Δ NESTED: {rho:+.2f} "
          f"({time.time() - t:.0f}s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))

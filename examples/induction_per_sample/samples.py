"""The most up- and down-weighted windows of a per-sample patterning, as text.

Usage: ``PYTHONPATH=$PWD python examples/induction_per_sample/samples.py RUN_DIR [SOLVE] [N]``
(``SOLVE`` defaults to ``per_sample``, ``N`` to 5). Reads the solve step's ``sample_weights.npz``
and the susceptibility's ``per_sample.npz``, rebuilds the pools from the plan (the windows are a
deterministic function of the pool's settings), decodes them with the shared BPE tokenizer, and
prints per pool: the weight ratio p'/p0 of its extremes, their per-sample χ of mean(ih), and the
text; then how the weight ratio relates to that χ over the pool (a rank correlation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from patternlang.data.build import build_components
from patternlang.data.text import stdlib_corpus
from patternlang.plan.ir import Plan


def _step(run: Path, prefix: str) -> Path:
    return next((run / "steps").glob(f"{prefix}-*"))


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def main(run: Path, solve: str = "per_sample", n: int = 5) -> None:
    plan = Plan.from_json((run / "plan.json").read_text())
    step = plan.step(f"solve.{solve}")
    sus = plan.step(step.susceptibilities[0])
    comps = build_components(plan.step(sus.sample).components)
    w = np.load(_step(run, f"solve-{solve}") / "sample_weights.npz")
    ps = np.load(_step(run, f"susceptibility-{sus.id.split('.', 1)[1]}") / "per_sample.npz")
    names = [str(x) for x in ps["names"]]
    obs = json.loads((_step(run, f"susceptibility-{sus.id.split('.', 1)[1]}") / "chi.json")
                     .read_text())["obs_names"]
    heads = [i for i, o in enumerate(obs) if o.startswith("ih[")]
    chi_ih = ps["chi"][heads].mean(0)
    for pool in step.samples:
        comp = comps[pool]
        vocab = comp.vocab_size
        tok, _ = stdlib_corpus(vocab)
        q = w[pool]
        ratio = q * len(q)  # p'/p0 within the pool (p0 uniform)
        cols = [i for i, nm in enumerate(names) if nm.startswith(pool + "[")]
        print(f"## {pool}: {len(q)} windows; weight ratio p'/p0 from {ratio.min():.3g} to "
              f"{ratio.max():.3g}; rank correlation of the ratio with chi(mean(ih), window): "
              f"{_rank_corr(ratio, chi_ih[cols]):+.2f}\n")
        order = np.argsort(ratio)
        for title, picks in (("most up-weighted", order[::-1][:n]), ("most down-weighted", order[:n])):
            print(f"### {title}\n")
            for i in picks:
                text = tok.decode(comp.examples["tokens"][i].tolist()).replace("`", "'")
                print(f"- x{ratio[i]:.2f}, chi(mean(ih)) {chi_ih[cols][i]:+.2e}: `{text!r}`")
            print()


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(sys.argv[2:3] or []), *(int(a) for a in sys.argv[3:4]))

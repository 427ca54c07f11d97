"""Per-component loss of each pool checkpoint, grouped by the rule it learned.

The free energy F_n = n·L(w*) + λ·log n compares two solutions by their loss as well as their LLC;
this prints the loss part: the mean cross-entropy of every final pool checkpoint on 1024 fresh
strings of each data component, with median and mean per rule (NESTED: nested agreement >= 0.75,
EQUAL-COUNT: equal-count agreement >= 0.75, both read from the pool's training curves).

    PYTHONPATH=$PWD python examples/parentheses/center_losses.py runs/parens
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from patternlang.models.losses import per_sample_loss
from patternlang.plan.ir import Plan
from patternlang.runtime.services.build import build_components, build_model, load_weights

THRESHOLD = 0.75


def main(run_dir: Path, samples: int = 1024) -> None:
    torch.set_num_threads(1)
    plan = Plan.model_validate(json.loads((run_dir / "plan.json").read_text()))
    train = next(s for s in plan.steps if s.kind == "train")
    pool = next((run_dir / "steps").glob(f"train-{train.id.split('.')[-1]}-*"))
    components = build_components(train.components)
    g = torch.Generator().manual_seed(123)
    batches = {k: c.sample(samples, g) for k, c in components.items()}
    groups: dict[str, list[dict[str, float]]] = {"NESTED": [], "EQUAL-COUNT": []}
    for curve_file in sorted(pool.glob("seed*/curve.json"), key=lambda p: int(p.parent.name[4:])):
        curve = json.loads(curve_file.read_text())
        final = curve["curve"]["values"][-1]
        rule = ("NESTED" if final["nested"] >= THRESHOLD else
                "EQUAL-COUNT" if final["equal_count"] >= THRESHOLD else None)
        if rule is None:
            continue
        last = max(curve["checkpoints"], key=int)
        model = load_weights(build_model(train.model), pool / curve["checkpoints"][last]).eval()
        with torch.no_grad():
            groups[rule].append({k: float(per_sample_loss("classify", model(b["tokens"]), b).mean())
                                 for k, b in batches.items()})
    names = list(components)
    print("| rule | seeds | statistic | " + " | ".join(names) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    for rule, rows in groups.items():
        for stat, fn in (("median", np.median), ("mean", np.mean)):
            vals = " | ".join(f"{fn([r[k] for r in rows]):.4f}" for k in names)
            print(f"| {rule} | {len(rows)} | {stat} | {vals} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

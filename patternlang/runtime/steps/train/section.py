"""The train step's report section: every seed's final training loss and the observables tracked
during training."""

from __future__ import annotations

import numpy as np

from patternlang.runtime.markdown import Section, table
from patternlang.runtime.results_types import TrainPoolResult
from patternlang.runtime.training_types import Tracked


def section(s: Section) -> list[str]:
    """The train step's report section: every seed's final loss (the first 8) and the observables
    tracked during training."""
    final_loss = s.of(TrainPoolResult).final_loss
    losses = ", ".join(f"seed {k}: {v:.4g}" for k, v in list(final_loss.items())[:8])
    return [f"### Training: `{s.step_id}`", "", f"Final training loss — {losses}.", "",
            *tracked_lines(s.tracked)]


def tracked_lines(tr: Tracked | None) -> list[str]:
    """The tracked observables' mean over seeds at (at most 8, evenly spaced) evaluation steps."""
    if not tr or not tr.seeds:
        return []
    names = list(next(iter(tr.seeds.values())))
    cols = list(range(len(tr.steps)))
    if len(cols) > 8:
        cols = sorted({round(i * (len(cols) - 1) / 7) for i in range(8)})
    rows = []
    for n in names:
        per_step = [[x for v in tr.seeds.values() if (x := v[n][i]) is not None] for i in cols]
        rows.append([n] + [float(np.mean(x)) if x else None for x in per_step])
    shown = "" if len(cols) == len(tr.steps) else \
        (f" ({len(cols)} of the {len(tr.steps)} evaluation steps, evenly spaced; all of them "
         "are in results.json, `tracked`)")
    return [f"Tracked observables (mean over {len(tr.seeds)} seed(s)) by training step{shown}:",
            "",
            table(["observable"] + [str(tr.steps[i]) for i in cols], rows), ""]

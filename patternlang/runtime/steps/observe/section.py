"""The observe step's report section: each observable's mean over seeds and its value per seed."""

from __future__ import annotations

from patternlang.runtime.markdown import Section, table
from patternlang.runtime.results_types import ObserveResult


def section(s: Section) -> list[str]:
    """The observe step's report section: each observable's mean and its value per seed (the first 8)."""
    r = s.of(ObserveResult)
    seeds = r.per_seed[:8]
    rows = [[n, m] + [seed.values.get(n) for seed in seeds] for n, m in r.mean.items()]
    return [f"### Measurement: `{s.step_id}`", "",
            table(["observable", f"mean over {len(r.per_seed)}"] + [f"seed {seed.seed}" for seed in seeds],
                  rows), ""]

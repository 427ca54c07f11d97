"""The observe step's report section: each observable's mean over seeds and its value per seed."""

from __future__ import annotations

from patternlang.runtime.markdown import Section, table


def section(s: Section) -> list[str]:
    """The observe step's report section: each observable's mean and its value per seed (the first 8)."""
    sid, sm = s.step_id, s.data
    seeds = sm["per_seed"][:8]
    rows = [[n, m] + [r["values"].get(n) for r in seeds] for n, m in sm["mean"].items()]
    return [f"### Measurement: `{sid}`", "",
            table(["observable", f"mean over {len(sm['per_seed'])}"] + [f"seed {r['seed']}" for r in seeds],
                   rows), ""]

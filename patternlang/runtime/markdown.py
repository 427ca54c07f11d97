"""What a step kind's report section is made of: :class:`Section` (what the section renderer of a
step kind gets, :mod:`patternlang.runtime.kinds`) and the Markdown helpers every section uses
(:func:`table`, :func:`cell`, :func:`slug`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patternlang.runtime.rundir import StepDir


@dataclass(frozen=True)
class Section:
    """One completed step as its report section sees it: its id, its result as ``results.json``
    holds it (``data``), the run's ``figures/`` folder, the step's directory (files beside the
    result, e.g. ``traces.npz``) and, for train steps, the observables tracked during training."""

    step_id: str
    data: dict
    figdir: Path
    dir: StepDir
    tracked: dict | None = None


def table(header: list[str], rows: list[list]) -> str:
    fmt = [" | ".join(str(c) for c in header), " | ".join("---" for _ in header)]
    fmt += [" | ".join(cell(c) for c in r) for r in rows]
    return "\n".join(f"| {line} |" for line in fmt)


def cell(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)[:40]

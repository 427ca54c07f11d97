"""What a step kind's report section is made of: :class:`Section` (what the section renderer of a
step kind gets, :mod:`patternlang.runtime.kinds`) and the Markdown helpers every section uses
(:func:`table`, :func:`cell`, :func:`slug`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from patternlang.runtime.results_types import StepResult
from patternlang.runtime.rundir import StepDir
from patternlang.runtime.training_types import Tracked

R = TypeVar("R", bound=StepResult)


@dataclass(frozen=True)
class Section:
    """One completed step as its report section sees it: its id, its typed result (the model of
    its kind read from ``done.json``, :mod:`patternlang.runtime.results_types`; ``results.json``
    holds the same model as JSON), the run's ``figures/`` folder, the step's directory (files
    beside the result, e.g. ``traces.npz``) and, for train steps, the observables tracked during
    training. A renderer takes its result with :meth:`of`, which also tells the type checker::

        r = s.of(VerifyResult)
        r.arms["patterned"].final["ih"].mean
    """

    step_id: str
    result: StepResult
    figdir: Path
    dir: StepDir
    tracked: Tracked | None = None

    def of(self, kind: type[R]) -> R:
        """The result as the model ``kind`` (a ``TypeError`` if the step's result is another)."""
        if not isinstance(self.result, kind):
            raise TypeError(f"{self.step_id}: a {type(self.result).__name__}, not a {kind.__name__}")
        return self.result


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

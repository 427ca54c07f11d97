"""One error hierarchy for the whole pipeline.

Every user-facing failure is a :class:`PatError`. The CLI maps them to exit codes:

* :class:`PatSpecError` (syntax, check, lowering; holds many :class:`Diagnostic`) -> exit 2
* :class:`PatRuntimeError` (a step failed: names the step, the cause and a remedy) -> exit 1
* anything else is an internal error -> exit 70 with a banner asking for a report.

Diagnostics carry a :class:`Span` so they can be rendered as ``file:line:col`` with a caret.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A source region. Lines and columns are 1-based; ``end_*`` is exclusive on columns."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec: a stable code (``PAT1xx`` syntax, ``PAT2xx`` names, ``PAT3xx`` types
    and ranges, ``PAT4xx`` convexity, ``PAT5xx`` structure), a message, where, and how to fix it."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: str = "error"

    def sort_key(self) -> tuple:
        s = self.span
        return (s.file, s.line, s.col, self.code) if s else ("", 0, 0, self.code)


class PatError(Exception):
    """Base of every error a user may see. ``exit_code`` is what ``patc`` exits with."""

    exit_code = 1


class PatSpecError(PatError):
    """The spec is wrong. Holds every diagnostic found (all errors at once, sorted by position)."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.sources = sources or {}
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(f"{first.span}: {first.message}" if first and first.span else
                         (first.message if first else "invalid spec"))


class PatUsageError(PatError):
    """A command-line usage problem (bad flag value, missing file)."""

    exit_code = 2


@dataclass
class _RuntimeInfo:
    step: str
    cause: str
    remedy: str
    details: dict = field(default_factory=dict)


class PatRuntimeError(PatError):
    """A plan step failed at run time. Completed steps stay on disk so ``--resume`` continues.

    Args:
        step: the plan step id (e.g. ``sample.chi``).
        cause: what went wrong, in the user's terms.
        remedy: what to change.
        details: machine-readable extras (written to the run log / results).
    """

    exit_code = 1

    def __init__(self, step: str, cause: str, remedy: str, details: dict | None = None):
        self.info = _RuntimeInfo(step, cause, remedy, details or {})
        super().__init__(f"step '{step}' failed: {cause}\n  remedy: {remedy}")

    @property
    def step(self) -> str:
        return self.info.step

    @property
    def cause(self) -> str:
        return self.info.cause

    @property
    def remedy(self) -> str:
        return self.info.remedy


class DivergenceError(PatRuntimeError):
    """Every chain of a sampling step diverged (NaN, inf or loss blow-up)."""


class InfeasibleError(PatRuntimeError):
    """The inverse problem has no solution under the spec's constraints."""


class UnsafeCheckpointError(PatRuntimeError):
    """A checkpoint would execute pickled code when loaded; it is refused."""


def mark_declared_at(exc: BaseException, loc: object) -> None:
    """Remember on ``exc``, raised by user code such as a factory, the spec location
    (``loc.file``, ``loc.line``, ``loc.col``) that asked for the call: the runtime's message then
    names the spec line beside the Python one. The innermost location wins."""
    if loc is None or hasattr(exc, "pat_declared_at"):
        return
    try:
        exc.pat_declared_at = f"{loc.file}:{loc.line}:{loc.col}"  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__
        pass

"""The front end's public API: `.pat` text -> checked program -> :class:`~patternlang.plan.ir.Plan`.

    >>> from patternlang.compiler import compile_file
    >>> plan = compile_file("specs/quickstart.pat")      # doctest: +SKIP
    >>> [s.id for s in plan.steps]                        # doctest: +SKIP
    ['train.pretrain', 'sample.chi', 'susceptibility.chi', 'solve.accelerate', 'verify.accelerate', 'report']

Every problem in a spec raises :class:`~patternlang.errors.PatSpecError` with all diagnostics.
"""

from __future__ import annotations

from pathlib import Path

from patternlang.check.checker import check_program
from patternlang.check.entities import Checked
from patternlang.check.modules import load_program
from patternlang.errors import Diagnostic, PatSpecError, PatUsageError
from patternlang.plan.ir import Plan
from patternlang.compiler.lower import lower
from patternlang.syntax.ast import Module
from patternlang.syntax.parser import parse


def read_spec(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise PatUsageError(f"no such spec file: {path}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        d = Diagnostic("PAT102", f"the file is not UTF-8 text ({exc.reason})", None)
        raise PatSpecError([d]) from None


def check_source(text: str, filename: str = "<string>", search_path: list[str] | None = None) -> Checked:
    """Parse and check ``text``; returns the checked program."""
    return check_program(load_program(text, filename, search_path))


def check_file(path: str | Path, search_path: list[str] | None = None) -> Checked:
    """Parse and check a spec file (and the modules it uses)."""
    return check_source(read_spec(path), str(path), search_path)


def compile_source(text: str, filename: str = "<string>", search_path: list[str] | None = None) -> Plan:
    """Compile spec text to a plan."""
    return lower(check_source(text, filename, search_path))


def compile_file(path: str | Path, search_path: list[str] | None = None) -> Plan:
    """Compile a spec file to a plan."""
    return lower(check_file(path, search_path))


def parse_file(path: str | Path) -> Module:
    """Only parse (for ``patc compile --emit ast``)."""
    return parse(read_spec(path), str(path))

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
from patternlang.check.modules import load_program, read_source
from patternlang.errors import Diagnostic, PatSpecError, Span
from patternlang.plan.ir import Plan
from patternlang.compiler.lower import lower
from patternlang.syntax.ast import Module
from patternlang.syntax.parser import deep_recursion, parse


def read_spec(path: str | Path) -> str:
    """The spec's text (see :func:`~patternlang.check.modules.read_source`: UTF-8, a BOM is
    dropped; a directory, a missing file or non-UTF-8 bytes are clear errors naming the file)."""
    return read_source(Path(path), str(path))


def check_source(text: str, filename: str = "<string>", search_path: list[str] | None = None) -> Checked:
    """Parse and check ``text``; returns the checked program. Nesting is bounded by the parser
    (:data:`~patternlang.syntax.parser.MAX_DEPTH`, PAT322), and the recursive checker runs with a
    recursion limit to match."""
    with deep_recursion():
        try:
            return check_program(load_program(text, filename, search_path))
        except RecursionError:
            d = Diagnostic("PAT322", "the spec nests expressions or templates too deeply to check",
                           Span(filename, 1, 1, 1, 2), "split deep expressions into named declarations")
            raise PatSpecError([d], {filename: text}) from None


def check_file(path: str | Path, search_path: list[str] | None = None) -> Checked:
    """Parse and check a spec file (and the modules it uses)."""
    return check_source(read_spec(path), str(path), search_path)


def compile_source(text: str, filename: str = "<string>", search_path: list[str] | None = None) -> Plan:
    """Compile spec text to a plan (refused, PAT331, when a step cannot fit in this machine's
    memory: :func:`~patternlang.compiler.limits.memory_errors`)."""
    checked = check_source(text, filename, search_path)
    with deep_recursion():
        return _fits(lower(checked), {filename: text})


def compile_file(path: str | Path, search_path: list[str] | None = None) -> Plan:
    """Compile a spec file to a plan (see :func:`compile_source`)."""
    checked = check_file(path, search_path)
    with deep_recursion():
        plan = lower(checked)
    return _fits(plan, None, path)


def _fits(plan: Plan, sources: dict[str, str] | None, path: str | Path | None = None) -> Plan:
    """``plan``, or a :class:`PatSpecError` for every step whose memory is above this machine's."""
    from patternlang.compiler.limits import memory_errors

    errors = memory_errors(plan)
    if errors:
        if sources is None:
            assert path is not None  # (compile_file passes the path, compile_source the sources)
            sources = {str(path): read_spec(path)}
        raise PatSpecError(errors, sources)
    return plan


def module_files(path: str | Path, search_path: list[str] | None = None) -> list[Path]:
    """The files of the modules a spec ``use``s, transitively (not the stdlib's): what a run copies
    into ``RUN/spec/`` beside the spec."""
    from patternlang.check.modules import STDLIB_DIR, load_program

    program = load_program(read_spec(path), str(path), search_path)
    stdlib = STDLIB_DIR.resolve()
    files = {(m.dir / Path(key).name).resolve() for key, m in program.modules.items()
             if not m.is_root}
    return sorted(f for f in files if f.parent != stdlib and f.is_file())


def parse_file(path: str | Path) -> Module:
    """Only parse (for ``patc compile --emit ast``)."""
    return parse(read_spec(path), str(path))

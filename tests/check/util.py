"""Helpers shared by the front-end tests."""

from __future__ import annotations

import os
from pathlib import Path

from patternlang.compiler import compile_source
from patternlang.diagnostics_render import render_all
from patternlang.errors import PatSpecError

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REGEN = bool(os.environ.get("PAT_REGEN"))
IN_CI = bool(os.environ.get("CI"))  # CI compares with the goldens; it never writes them


def diagnostics_text(text: str, filename: str) -> str | None:
    """The rendered diagnostics of a spec, or None if it compiles."""
    try:
        compile_source(text, filename)
    except PatSpecError as exc:
        return render_all(exc.diagnostics, exc.sources)
    return None


def golden(path: Path, actual: str) -> None:
    """Compare with a golden file; with PAT_REGEN=1, (re)write it instead (refused when CI is set,
    as is writing a missing one: a golden made by the run it checks would pass by construction)."""
    if IN_CI and (REGEN or not path.exists()):
        raise AssertionError(f"{path} is missing or PAT_REGEN is set, and CI is set: goldens are "
                             "regenerated on a developer's machine and committed, never in CI")
    if REGEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if not REGEN:
            raise AssertionError(f"golden file {path} was missing; written now, rerun the tests")
        return
    assert actual == path.read_text(encoding="utf-8"), \
        f"{path.name} differs from its golden file; if the change is intended, rerun with PAT_REGEN=1"

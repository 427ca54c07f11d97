"""Removing any one closing bracket from a shipped spec gives exit 2 and a diagnostic near it."""

from __future__ import annotations

import pytest

from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError
from patternlang.syntax.parser import scan
from .util import ROOT

SPECS = sorted((ROOT / "specs").glob("*.pat")) + sorted((ROOT / "stdlib").glob("*.pat"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_closing_bracket(spec):
    text = spec.read_text(encoding="utf-8")
    closers = [t for t in scan(text) if t.text in ")]}"]
    assert closers
    for tok in closers:
        broken = text[:tok.start] + text[tok.end:]
        with pytest.raises(PatSpecError) as info:
            compile_source(broken, str(spec))
        d = info.value.diagnostics[0]
        assert d.span is not None and d.code.startswith("PAT1"), (tok, d)
        assert abs(d.span.line - tok.line) <= 2, \
            f"removed {tok.text!r} at {tok.line}:{tok.col}, diagnostic at {d.span}: {d.message}"

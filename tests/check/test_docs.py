"""Every ```pat block in docs/, the README and the examples' READMEs compiles."""

from __future__ import annotations

import re

import pytest

from patternlang.compiler import compile_source
from .util import ROOT

BLOCK = re.compile(r"^```pat\n(.*?)^```", re.M | re.S)
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"] + sorted(
    (ROOT / "examples").glob("*/README.md"))
BLOCKS = [(p, i, m.group(1)) for p in DOCS
          for i, m in enumerate(BLOCK.finditer(p.read_text(encoding="utf-8")))]


def test_docs_have_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("doc,index,code", BLOCKS, ids=[f"{p.parent.name}-{p.stem}-{i}" for p, i, _ in BLOCKS])
def test_doc_block_compiles(doc, index, code):
    compile_source(code, str(doc.with_suffix(f".block{index}.pat")))


EXAMPLE_SPECS = sorted((ROOT / "examples").glob("*/*.pat"))


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=[f"{p.parent.name}-{p.stem}" for p in EXAMPLE_SPECS])
def test_example_spec_compiles(path):
    """The diagnostic specs kept beside the examples' READMEs still compile (imports resolve from
    their own folder, as `patc run examples/<name>/<spec>.pat` does)."""
    compile_source(path.read_text(encoding="utf-8"), str(path))


def test_the_readme_shows_the_quickstart_as_it_is():
    """The README's first spec is specs/quickstart.pat, character for character (it went stale once)."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```pat\n") + len("```pat\n")
    assert text[start:text.index("```", start)] == (ROOT / "specs" / "quickstart.pat").read_text()

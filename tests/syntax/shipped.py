"""The `.pat` sources the project ships: specs, stdlib modules, example specs, docs examples."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").rglob("*.pat")) + sorted((ROOT / "examples").glob("*/*.pat"))
STDLIB = sorted((ROOT / "stdlib").glob("*.pat"))  # patternlang/stdlib links here
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"] + sorted(
    (ROOT / "examples").glob("*/README.md"))
_BLOCK = re.compile(r"^```pat\n(.*?)^```", re.M | re.S)
DOC_BLOCKS = [(p, i, m.group(1)) for p in DOCS
              for i, m in enumerate(_BLOCK.finditer(p.read_text(encoding="utf-8")))]


def all_sources() -> list[tuple[str, str, str]]:
    """(test id, file name to compile under, text) of every shipped `.pat` source."""
    out = [(str(p.relative_to(ROOT)), str(p), p.read_text(encoding="utf-8")) for p in SPECS + STDLIB]
    out += [(f"{p.relative_to(ROOT)}#{i}", str(p.with_suffix(f".block{i}.pat")), text)
            for p, i, text in DOC_BLOCKS]
    return out

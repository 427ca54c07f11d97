"""``patc fmt`` on Markdown: every ```` ```pat ```` block of a document in the canonical layout of
:mod:`patternlang.syntax.format`, the prose untouched."""

from __future__ import annotations

import re

from patternlang.syntax.format import format_source

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})([^\n]*)\n?$")


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a code block opened by ``fence`` (CommonMark: the same character,
    at least as many, nothing else but spaces)."""
    stripped, indent = line.strip(), len(line) - len(line.lstrip(" "))
    return indent <= 3 and len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def format_markdown(text: str, file: str = "<string>") -> str:
    """``text`` with every ```` ```pat ```` block in the canonical layout (the prose untouched).

    Fences are read as CommonMark reads them: a block opened by ```` ```` ```` (or ``~~~``) runs
    to a closing fence of the same character and at least the same length, so a ```` ```pat ````
    block shown *inside* another block (a literal example in the docs) is left as written."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            out.append(lines[i])
            i += 1
            continue
        fence, info = m.group(2), m.group(3).strip()
        end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), None)
        if end is None:  # an unclosed fence runs to the end of the document: left as written
            out.extend(lines[i:])
            break
        body = "".join(lines[i + 1:end])
        if info == "pat" and not m.group(1) and fence == "```":
            body = format_source(body, file)
        out += [lines[i], body, lines[end]]
        i = end + 1
    return "".join(out)

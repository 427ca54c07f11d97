"""Render diagnostics the way compilers do::

    specs/x.pat:12:20: error[PAT201]: unknown name 'induction_scroe'
       |
    12 | observable ih = induction_scroe(layer=1)
       |                 ^^^^^^^^^^^^^^^
       = help: did you mean 'induction_score'?

Colours (ANSI) only when asked, i.e. when the stream is a terminal.
"""

from __future__ import annotations

from patternlang.errors import Diagnostic

_RED, _BLUE, _BOLD, _RESET = "\x1b[31;1m", "\x1b[34;1m", "\x1b[1m", "\x1b[0m"


def render(d: Diagnostic, sources: dict[str, str], color: bool = False) -> str:
    def c(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    where = f"{d.span}: " if d.span else ""
    head = f"{where}{c(_RED, f'{d.severity}[{d.code}]')}: {c(_BOLD, d.message)}"
    lines = [head]
    src = sources.get(d.span.file) if d.span else None
    if d.span and src is not None:
        text_lines = src.splitlines()
        if 1 <= d.span.line <= len(text_lines):
            line = text_lines[d.span.line - 1].replace("\t", " ")
            num = str(d.span.line)
            pad = " " * len(num)
            end = d.span.end_col if d.span.end_line == d.span.line else len(line) + 1
            line, col, end = _window(line, d.span.col, end)
            width = max(1, min(end, len(line) + 1) - col)
            caret = " " * (col - 1) + "^" * width
            lines += [f"{pad} {c(_BLUE, '|')}", f"{c(_BLUE, num + ' |')} {line}",
                      f"{pad} {c(_BLUE, '|')} {c(_RED, caret)}"]
    if d.hint:
        lines.append(f"{' ' * (len(str(d.span.line)) if d.span else 0)} = help: {d.hint}")
    return "\n".join(lines)


MAX_SHOWN = 120  # longer source lines are shown as a window around the caret


def _window(line: str, col: int, end: int) -> tuple[str, int, int]:
    """The part of a long ``line`` around columns ``col..end`` (a 5,000-digit literal or a
    2,000-deep call is not printed whole), with the columns shifted to match."""
    if len(line) <= MAX_SHOWN:
        return line, col, end
    start = max(0, col - 1 - 40)
    stop = min(len(line), start + MAX_SHOWN)
    head = "..." if start > 0 else ""
    tail = "..." if stop < len(line) else ""
    shift = start - len(head)
    return head + line[start:stop] + tail, col - shift, min(end - shift, stop - shift + 1)


def render_all(diags: list[Diagnostic], sources: dict[str, str], color: bool = False) -> str:
    body = "\n\n".join(render(d, sources, color) for d in diags)
    n = len(diags)
    return f"{body}\n\n{n} error{'s' if n != 1 else ''} found"

"""The canonical layout of `.pat` source (``patc fmt``).

The formatter prints the *concrete* syntax tree (every token kept, see
:func:`~patternlang.syntax.parser.parse_lossless`) back with one layout:

* two-space indentation, one use/declaration per line, one block item per line;
* a block written on one line with only settings stays compact, two spaces between settings
  (``sampler s { step = 1e-3  gamma = 300 }``);
* ``=`` aligned across a run of consecutive one-line declarations of the same kind without
  parameters (``data markov  = ...`` under ``data repeats = ...``);
* a list, dict, call or parameter list whose opening bracket ends its line (or that holds a
  comment) is printed one element per line with a trailing comma, dict values aligned; otherwise
  it stays on one line;
* single spaces around ``=``, comparisons and ``+ - * /`` (none around ``=`` of keyword arguments
  and parameters), after ``,`` and ``:``;
* blank lines between statements are kept (at most one), and forced around multi-line declarations.

Comments are kept: a comment after code stays at the end of that code's line, a comment on its own
line stays on its own line above the code that follows it (so ``##`` doc comments stay attached).
Formatting never changes the syntax tree (tested: same AST, same plan hashes), and formatting
formatted text changes nothing.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, cast

from lark import Token, Tree

from patternlang.syntax.parser import parse_lossless

INDENT = "  "
_NO_SPACE_AFTER = {"(", "["}
_NO_SPACE_BEFORE = {")", "]", ",", ":"}
_TIGHT_EQ = {"arg", "param"}


@dataclass
class _Line:
    indent: int
    blank: str  # "keep": keep a blank line from the source; "force"; "no"
    closer: bool = False
    parts: list[str] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)  # tokens from the source, in order


def _space(prev: tuple[str, str], cur: tuple[str, str]) -> str:
    """The space between two tokens on one line, from their texts and parent rules."""
    (p, pr), (c, cr) = prev, cur
    if p in _NO_SPACE_AFTER or c in _NO_SPACE_BEFORE or p == "." or c == ".":
        return ""
    if p == "{" or c == "}":
        return "" if "dict" in (pr, cr) else " "
    if (c == "(" and cr in ("call", "params")) or (c == "[" and cr == "index"):
        return ""
    if p == "-" and pr == "neg":
        return ""
    if (c == "=" and cr in _TIGHT_EQ) or (p == "=" and pr in _TIGHT_EQ):
        return ""
    return " "


class _Writer:
    """Lines of tokens; spacing between tokens is decided as they are added."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.level = 0
        self.prev: tuple[str, str] | None = None
        self.sep: str | None = None  # overrides the next token's leading space
        self.pad = 0  # extra spaces before the next token (alignment)

    def newline(self, blank: str = "keep", closer: bool = False) -> None:
        self.lines.append(_Line(self.level, blank, closer))
        self.prev = None

    def tok(self, t: Token | str, rule: str) -> None:
        if not self.lines:
            self.newline()
        line = self.lines[-1]
        if self.prev is not None:
            line.parts.append(" " * self.pad + (self.sep if self.sep is not None else _space(self.prev, (str(t), rule))))
        line.parts.append(str(t))
        if isinstance(t, Token) and t.start_pos is not None:
            line.tokens.append(t)
        self.prev, self.sep, self.pad = (str(t), rule), None, 0


def _leaves(node: Tree | Token):
    if isinstance(node, Token):
        yield node
        return
    for c in node.children:
        if c is not None:
            yield from _leaves(c)


def _first(node: Tree | Token) -> Token:
    return next(_leaves(node))


def _last(node: Tree | Token) -> Token:
    return list(_leaves(node))[-1]


class _Printer:
    def __init__(self, comments: list[Token]) -> None:
        self.w = _Writer()
        self.comment_pos = [c.start_pos for c in comments]
        self.comments = comments

    # -- helpers -------------------------------------------------------------------------------
    def comments_between(self, a: int, b: int) -> list[Token]:
        lo, hi = bisect.bisect_left(self.comment_pos, a), bisect.bisect_left(self.comment_pos, b)
        return self.comments[lo:hi]

    def render(self, node: Tree | Token, rule: str = "") -> None:
        if isinstance(node, Token):
            self.w.tok(node, rule)
            return
        handler = getattr(self, "_r_" + str(node.data), None)
        if handler is not None:
            handler(node)
            return
        for c in node.children:
            if c is not None:
                self.render(c, str(node.data))

    def scratch(self, node: Tree) -> list[_Line]:
        """Render ``node`` on its own (for measuring), leaving the output untouched."""
        saved, self.w = self.w, _Writer()
        try:
            self.render(node)
            return self.w.lines
        finally:
            self.w = saved

    # -- module --------------------------------------------------------------------------------
    def _r_start(self, t: Tree) -> None:
        stmts = [c for c in t.children if isinstance(c, Tree)]
        pads = self.alignment(stmts)
        prev_multi = False
        for i, s in enumerate(stmts):
            first = len(self.w.lines)
            self.w.newline("force" if prev_multi else "keep")
            self.w.level = 0
            self.render_stmt(s, pads[i])
            multi = len(self.w.lines) - first > 1
            if multi and i > 0:
                self.w.lines[first].blank = "force"
            prev_multi = multi

    def render_stmt(self, s: Tree, pad: int) -> None:
        for c in s.children:
            if isinstance(c, Tree) and c.data == "eq_body":
                self.w.pad = pad
            self.render(c, str(s.data))

    def alignment(self, stmts: list[Tree]) -> list[int]:
        """Padding before ``=`` for runs of consecutive one-line declarations of one kind (templates,
        declarations with parameters, are not aligned)."""
        pads = [0] * len(stmts)
        info = [self.eq_header(s) for s in stmts]
        i = 0
        while i < len(stmts):
            j = i + 1
            while (info[i] and j < len(stmts) and info[j] and info[j][0] == info[i][0]
                   and self.adjacent(stmts[j - 1], stmts[j])):
                j += 1
            width = max((info[k][1] for k in range(i, j)), default=0) if info[i] else 0
            for k in range(i, j):
                if info[k]:
                    pads[k] = width - info[k][1]
            i = j
        return pads

    def eq_header(self, s: Tree) -> tuple[str, int] | None:
        """(kind, header width) of a one-line ``kind name = value`` declaration, else None."""
        if (s.data != "decl" or not isinstance(s.children[-1], Tree) or s.children[-1].data != "eq_body"
                or any(isinstance(c, Tree) and c.data == "params" for c in s.children)):
            return None
        if len(self.scratch(s)) > 1:
            return None
        head = Tree("head", s.children[:-1])
        return str(_first(s)), len("".join(self.scratch(head)[0].parts))

    def adjacent(self, a: Tree, b: Tree) -> bool:
        end, start = _last(a), _first(b)
        if start.line - end.end_line > 1:
            return False
        return all(c.line == end.end_line for c in self.comments_between(end.end_pos, start.start_pos))

    # -- blocks --------------------------------------------------------------------------------
    def _r_block(self, t: Tree) -> None:
        ch: list[Any] = t.children  # lark types children as Token | Tree; the grammar fixes which
        lb, items, rb = ch[0], [c for c in ch[1:-1] if c is not None], ch[-1]
        compact = (items and lb.line == rb.line and all(i.data == "setting" for i in items)
                   and not self.comments_between(lb.start_pos, rb.start_pos))
        if not items:
            self.w.tok(lb, "block")
            self.w.sep = ""
            self.w.tok(rb, "block")
        elif compact:
            self.w.tok(lb, "block")
            for k, item in enumerate(items):
                self.w.sep = "  " if k else " "
                self.render(item, "block")
            self.w.tok(rb, "block")
        else:
            self.lines_in_brackets(lb, items, rb, "block", comma=False)

    def _r_subject_to(self, t: Tree) -> None:
        kids: list[Any] = [c for c in t.children if c is not None]
        lb_at = next(i for i, c in enumerate(kids) if isinstance(c, Token) and c == "{")
        for c in kids[:lb_at]:
            self.render(c, "subject_to")
        items = kids[lb_at + 1:-1]
        if not items:
            self.w.tok(kids[lb_at], "subject_to")
            self.w.sep = ""
            self.w.tok(kids[-1], "subject_to")
            return
        self.lines_in_brackets(kids[lb_at], items, kids[-1], "subject_to", comma=False)

    def lines_in_brackets(self, lb: Token, items: list, rb: Token, rule: str, comma: bool,
                          pads: list[int] | None = None) -> None:
        self.w.tok(lb, rule)
        self.w.level += 1
        for k, item in enumerate(items):
            self.w.newline("keep" if k and not comma else "no")
            if pads is not None:
                self.render_entry(item, pads[k])
            else:
                self.render(item, rule)
            if comma:
                self.w.tok(",", rule)
        self.w.level -= 1
        self.w.newline("no", closer=True)
        self.w.tok(rb, rule)

    # -- brackets in expressions -----------------------------------------------------------------
    def bracketed(self, t: Tree, lead: int) -> None:
        rule = str(t.data)
        kids: list[Any] = [c for c in t.children if c is not None]
        for c in kids[:lead]:
            self.render(c, rule)
        lb, rb = kids[lead], kids[-1]
        elems = [c for c in kids[lead + 1:-1] if isinstance(c, Tree)]
        multi = elems and (_first(elems[0]).line > lb.line
                           or self.comments_between(lb.start_pos, rb.start_pos))
        if multi:
            pads = None
            if rule == "dict":
                widths = [len(str(e.children[0])) for e in elems]
                pads = [max(widths) - w for w in widths]
            self.lines_in_brackets(lb, elems, rb, rule, comma=True, pads=pads)
            return
        self.w.tok(lb, rule)
        for k, e in enumerate(elems):
            if k:
                self.w.tok(",", rule)
            self.render(e, rule)
        self.w.tok(rb, rule)

    def render_entry(self, e: Tree, pad: int) -> None:
        key, colon, *value = [c for c in cast(list[Any], e.children) if c is not None]
        self.w.tok(key, "entry")
        self.w.tok(colon, "entry")
        self.w.pad = pad
        for v in value:
            self.render(v, "entry")

    def _r_list(self, t: Tree) -> None:
        self.bracketed(t, 0)

    def _r_dict(self, t: Tree) -> None:
        self.bracketed(t, 0)

    def _r_params(self, t: Tree) -> None:
        self.bracketed(t, 0)

    def _r_call(self, t: Tree) -> None:
        self.bracketed(t, 1)

    # -- output ----------------------------------------------------------------------------------
    def text(self) -> str:
        lines = [ln for ln in self.w.lines if ln.parts]
        emitted = [(t, i) for i, ln in enumerate(lines) for t in ln.tokens]
        ends = [t.end_pos for t, _ in emitted]
        leading: dict[int, list[Token]] = {}
        trailing: dict[int, list[str]] = {}
        tail: list[Token] = []
        for c in self.comments:
            k = bisect.bisect_right(ends, c.start_pos)
            prev = emitted[k - 1] if k else None
            nxt = emitted[k] if k < len(emitted) else None
            if prev is not None and prev[0].end_line == c.line:
                trailing.setdefault(prev[1], []).append(str(c).rstrip())
            elif nxt is None:
                tail.append(c)
            elif lines[nxt[1]].tokens[0] is nxt[0]:
                leading.setdefault(nxt[1], []).append(c)
            else:
                trailing.setdefault(nxt[1], []).append(str(c).rstrip())
        out: list[str] = []
        last = 0
        for i, ln in enumerate(lines):
            comment_indent = ln.indent + (1 if ln.closer else 0)
            for k, c in enumerate(leading.get(i, [])):
                if ln.blank != "no" and (c.line - last >= 2 or (k == 0 and ln.blank == "force")) and out:
                    out.append("")
                out.append(INDENT * comment_indent + str(c).rstrip())
                last = c.line
            start = ln.tokens[0].line if ln.tokens else last
            if ln.blank != "no" and out and out[-1] and (start - last >= 2 or (ln.blank == "force" and not leading.get(i))):
                out.append("")
            text = INDENT * ln.indent + "".join(ln.parts)
            if i in trailing:
                text += "  " + " ".join(trailing[i])
            out.append(text)
            last = ln.tokens[-1].end_line if ln.tokens else last
        for c in tail:
            if c.line - last >= 2 and out:
                out.append("")
            out.append(str(c).rstrip())
            last = c.line
        return "\n".join(out) + "\n" if out else ""


def format_source(text: str, file: str = "<string>") -> str:
    """``text`` in the canonical layout. Raises :class:`~patternlang.errors.PatSpecError` on a
    syntax error (nothing is formatted then)."""
    tree, comments = parse_lossless(text, file)
    printer = _Printer(comments)
    printer.render(tree)
    return printer.text()

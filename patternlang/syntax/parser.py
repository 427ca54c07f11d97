"""Text -> :class:`~patternlang.syntax.ast.Module`, or a :class:`PatSpecError` with one syntax
diagnostic (``PAT1xx``) that says where, what was expected, and, for a missing closing bracket,
where it belongs.

The grammar ``pat.lark`` ships as package data and is compiled once per process (LALR). Missing
brackets are found by *trying the repair*: if inserting the innermost open bracket's partner at the
end of the previous line (or before the bad token) lets the parse get further, that is the diagnosis.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from contextvars import ContextVar
from functools import lru_cache

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from patternlang.errors import Diagnostic, PatSpecError, Span
from patternlang.syntax import ast as A
from patternlang.syntax.transform import BadLiteral, ToAst

PAIRS = {"(": ")", "[": "]", "{": "}"}
_KEYWORD_TERMINALS: tuple[str, ...] = ("raise", "lower", "reach", "hold", "move", "along", "relative", "to", "by", "weight", "subject",
                      "onset", "where", "limit", "auto", "true", "false", "as", "require")
KEYWORDS = ("use", "model", "data", "probe", "mixture", "train", "sampler", "observable", "susceptibility",
            "patterning", "verify", "measure", "output")
#: Words reserved only where they start or continue a construct (``raise``, ``by``, ``weight``, ...).
SOFT_KEYWORDS = tuple(k for k in _KEYWORD_TERMINALS if k not in ("auto", "true", "false"))
_KEYWORD_TERMINALS += KEYWORDS


_TEXT: ContextVar[str] = ContextVar("pat_text", default="")
_GAP = r"(?:\s|#[^\n]*)*"  # whitespace and comments between a keyword and what follows it
_SETTING = re.compile(_GAP + r"=(?!=)")
_CALL = re.compile(_GAP + r"\(")
_CALLABLE_WORDS = {"WEIGHT", "LIMIT", "TO", "BY", "WHERE", "RELATIVE", "ONSET", "SUBJECT", "AS",
                   "ALONG", "REQUIRE"}


def _keyword_or_key(tok: Token) -> Token:
    """A keyword followed by ``=`` is a setting key (``data = base`` inside a train block), and a
    soft keyword followed by ``(`` is a call (``weight(uniform)`` in a constraint); comments
    may come between (``data  # the mixture`` on one line, ``= base`` on the next).

    LALR merges lookaheads, so the contextual lexer alone would read ``data`` there as the
    declaration keyword; one character of look-ahead settles it."""
    text, end = _TEXT.get(), tok.end_pos or 0
    if _SETTING.match(text, end) or (tok.type in _CALLABLE_WORDS and _CALL.match(text, end)):
        return Token.new_borrow_pos("NAME", str(tok), tok)
    return tok


class _KeysPostLex:
    """Post-lexer applying :func:`_keyword_or_key` to every keyword token."""

    always_accept: tuple[str, ...] = ()
    _types = frozenset(w.upper() for w in _KEYWORD_TERMINALS)

    def process(self, stream):
        for tok in stream:
            yield _keyword_or_key(tok) if tok.type in self._types else tok


@lru_cache(maxsize=1)
def grammar() -> Lark:
    """The compiled LALR parser (cached)."""
    return Lark.open_from_package("patternlang.syntax", "pat.lark", parser="lalr",
                                  propagate_positions=True, maybe_placeholders=True,
                                  postlex=_KeysPostLex())


def _parse_tree(text: str):
    token = _TEXT.set(text)
    try:
        return grammar().parse(text)
    finally:
        _TEXT.reset(token)


@lru_cache(maxsize=1)
def _lossless_grammar() -> Lark:
    return Lark.open_from_package("patternlang.syntax", "pat.lark", parser="lalr",
                                  keep_all_tokens=True, maybe_placeholders=False,
                                  postlex=_KeysPostLex(),
                                  lexer_callbacks={"COMMENT": lambda t: _COMMENTS.get().append(t)})


_COMMENTS: ContextVar[list] = ContextVar("pat_comments")


def parse_lossless(text: str, file: str = "<string>") -> tuple[Tree, list[Token]]:
    """The concrete syntax tree of ``text`` with every token kept (brackets, commas, keywords) and
    the comments in source order: what the formatter and the editor tools read.

    A syntax error raises the same :class:`PatSpecError` as :func:`parse`."""
    parse(text, file)
    comments: list[Token] = []
    token, ctoken = _TEXT.set(text), _COMMENTS.set(comments)
    try:
        tree = _lossless_grammar().parse(text)
    finally:
        _TEXT.reset(token)
        _COMMENTS.reset(ctoken)
    return tree, comments


def parse(text: str, file: str = "<string>") -> A.Module:
    """Parse one module. Raises :class:`PatSpecError` (exit 2) on a syntax error."""
    try:
        tree = _parse_tree(text)
    except UnexpectedInput as exc:
        raise PatSpecError([_syntax_diagnostic(text, file, exc)], {file: text}) from None
    too_deep = _depth_diagnostic(tree, file)
    if too_deep is not None:
        raise PatSpecError([too_deep], {file: text})
    try:
        with deep_recursion():
            module = ToAst(file).transform(tree)
    except VisitError as exc:
        orig = exc.orig_exc
        if isinstance(orig, BadLiteral):
            d = Diagnostic("PAT105", f"invalid string literal {orig.args[0]}", orig.span,
                           'use \\" for a quote and \\\\ for a backslash')
            raise PatSpecError([d], {file: text}) from None
        raise orig from None
    return _attach_docs(module, text)


MAX_DEPTH = 1000  # nesting of expressions (a 600-term sum is depth 600); deeper is PAT322


@contextmanager
def deep_recursion(limit: int = 20 * MAX_DEPTH):
    """Raise Python's recursion limit while the recursive stages (tree transform, checker) walk
    a tree whose depth :func:`parse` has bounded by :data:`MAX_DEPTH`."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _depth_diagnostic(tree: Tree, file: str) -> Diagnostic | None:
    """PAT322 at the first node nested deeper than :data:`MAX_DEPTH` (an iterative walk, so a
    2,000-deep expression cannot exhaust the stack here)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            line, col = getattr(meta, "line", 1), getattr(meta, "column", 1)
            span = Span(file, line, col, line, col + 1)
            return Diagnostic("PAT322", f"expression nested more than {MAX_DEPTH} levels deep",
                              span, "split it into named declarations (observable x = ...)")
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return None


# ---------------------------------------------------------------------------------------------
# A small scanner (brackets, words, strings), independent of the grammar, for error analysis


@dataclass(frozen=True)
class Tok:
    text: str
    start: int  # offset
    end: int
    line: int
    col: int


_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[0-9.]+%?|\S')


def scan(text: str) -> list[Tok]:
    """Tokens of ``text`` without comments (strings kept whole)."""
    out, line, line_start = [], 1, 0
    for m in _SCAN.finditer(text):
        while True:
            nl = text.find("\n", line_start, m.start())
            if nl < 0:
                break
            line, line_start = line + 1, nl + 1
        if not m.group().startswith("#"):
            out.append(Tok(m.group(), m.start(), m.end(), line, m.start() - line_start + 1))
    return out


def _open_brackets(toks: list[Tok]) -> list[Tok]:
    stack: list[Tok] = []
    for t in toks:
        if t.text in PAIRS:
            stack.append(t)
        elif t.text in PAIRS.values() and stack and PAIRS[stack[-1].text] == t.text:
            stack.pop()
    return stack


def _error_offset(text: str) -> int | None:
    try:
        _parse_tree(text)
    except UnexpectedInput as exc:
        pos = getattr(exc, "pos_in_stream", None)
        tok = getattr(exc, "token", None)
        if tok is not None and tok.type == "$END":
            return len(text)
        return pos if pos is not None else len(text)
    return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _missing_bracket(text: str, file: str, err_offset: int) -> Diagnostic | None:
    toks = scan(text)
    before = [t for t in toks if t.start < err_offset]
    stack = _open_brackets(before)
    if not stack or not before:
        return None
    opener = stack[-1]
    closer = PAIRS[opener.text]
    bad_line = _line_col(text, err_offset)[0]
    # Candidate insertion points: after the last token of an earlier line, then right before the error.
    candidates = []
    prev_line_toks = [t for t in before if t.line < bad_line]
    if prev_line_toks:
        candidates.append(prev_line_toks[-1].end)
    candidates.append(before[-1].end)
    for at in dict.fromkeys(candidates):
        repaired = text[:at] + " " + closer + text[at:]
        new_err = _error_offset(repaired)
        if new_err is None or new_err > err_offset + 2:
            line, col = _line_col(text, at)
            span = Span(file, line, col, line, col + 1)
            return Diagnostic(
                "PAT104", f"missing '{closer}' to close the '{opener.text}' at line {opener.line}, "
                          f"column {opener.col}",
                span, f"insert '{closer}' here")
    return None


_NAMES = {"NAME": "a name", "NUMBER": "a number", "PERCENT": "a percentage", "STRING": "a string",
          "CMP": "a comparison (<=, >=, ==)", "$END": "end of file"}


def _describe(term: str) -> str:
    if term in _NAMES:
        return _NAMES[term]
    try:
        pattern = grammar().get_terminal(term).pattern
        if pattern.type == "str":
            return f"'{pattern.value}'"
    except KeyError:
        pass
    return term.lower()


def _syntax_diagnostic(text: str, file: str, exc: UnexpectedInput) -> Diagnostic:
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        offset = len(text.rstrip())
    else:
        offset = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    missing = _missing_bracket(text, file, offset)
    if missing:
        return missing
    line, col = _line_col(text, offset)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[offset] if offset < len(text) else ""
        hint = "strings are written in double quotes and end on the same line" if ch in "\"'" \
            else "remove it or check the spelling around it"
        return Diagnostic("PAT102", f"unexpected character {ch!r}", Span(file, line, col, line, col + 1), hint)
    assert isinstance(exc, UnexpectedToken)
    expected = sorted({_describe(t) for t in exc.expected if not t.startswith("_")})
    exp = ", ".join(expected[:8]) + (", ..." if len(expected) > 8 else "")
    if exc.token.type == "$END":
        span = Span(file, line, col, line, col + 1)
        return Diagnostic("PAT103", "unexpected end of file", span, f"expected {exp}")
    tok = exc.token
    span = Span(file, line, col, tok.end_line or line, tok.end_column or col + len(tok))
    hint = f"expected {exp}"
    before = [t for t in scan(text) if t.start < offset]
    if str(tok) in KEYWORDS and before and before[-1].line < line:
        # A new declaration starts while the previous one is unfinished: point at where it stops.
        last = before[-1]
        end_line, end_col = _line_col(text, last.end)
        span = Span(file, end_line, end_col, end_line, end_col + 1)
        if _open_brackets(before):
            hint += "; is a closing bracket missing?"
        return Diagnostic("PAT101", f"this declaration is unfinished where '{tok}' "
                                    f"(line {line}) begins the next", span, hint)
    return Diagnostic("PAT101", f"unexpected '{tok}'", span, hint)


# ---------------------------------------------------------------------------------------------
# Doc comments


def _attach_docs(module: A.Module, text: str) -> A.Module:
    """``##`` lines right above a declaration become its doc; leading ``#`` lines the module's."""
    lines = text.splitlines()

    def doc_above(line: int) -> str:
        out: list[str] = []
        i = line - 2
        while i >= 0 and lines[i].strip().startswith("##"):
            out.append(lines[i].strip()[2:].strip())
            i -= 1
        return "\n".join(reversed(out))

    decls = tuple(replace(d, doc=doc_above(d.span.line)) for d in module.decls)
    head: list[str] = []
    for raw in lines:
        s = raw.strip()
        if not s.startswith("#") or s.startswith("##"):
            break
        head.append(s[1:].strip())
    return replace(module, decls=decls, doc="\n".join(head))

"""The abstract syntax tree of a `.pat` module: frozen dataclasses, every node with its source span.

The tree is purely syntactic: names are not resolved and values are not checked (that is the job of
:mod:`patternlang.check`). :func:`show` prints an expression back as canonical source text; the
checker uses that text to name inline observables (``loss(markov)``) and constraints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from patternlang.errors import Span


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False, repr=False)


# ---------------------------------------------------------------------------------------------
# Expressions


@dataclass(frozen=True)
class Num(Node):
    """A number literal; ``percent`` literals (``5%``) are stored divided by 100."""

    value: float
    is_int: bool
    text: str


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class Auto(Node):
    """``auto``: let the compiler choose (e.g. nbeta = B / log B)."""


@dataclass(frozen=True)
class Star(Node):
    """``*``: all heads."""


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Attr(Node):
    obj: "Expr"
    name: str


@dataclass(frozen=True)
class Arg(Node):
    name: str | None
    value: "Expr"


@dataclass(frozen=True)
class Call(Node):
    func: "Expr"
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Index(Node):
    obj: "Expr"
    index: "Expr"


@dataclass(frozen=True)
class BinOp(Node):
    op: str  # + - * /
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Neg(Node):
    operand: "Expr"


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class DictExpr(Node):
    entries: tuple[tuple[str, Span, "Expr"], ...]  # (key, key span, value)


@dataclass(frozen=True)
class Compare(Node):
    """``a op b [op c ...]``: ``operands`` has one more element than ``ops``."""

    operands: tuple["Expr", ...]
    ops: tuple[str, ...]


@dataclass(frozen=True)
class Where(Node):
    """``base where condition [limit n]``: a checkpoint selection."""

    base: "Expr"
    condition: Compare
    limit: "Expr | None"


Expr = Union[Num, Str, Bool, Auto, Star, Name, Attr, Call, Index, BinOp, Neg, ListExpr, DictExpr,
             Where]

# ---------------------------------------------------------------------------------------------
# Block items and declarations


@dataclass(frozen=True)
class Setting(Node):
    key: str
    key_span: Span
    value: Expr


@dataclass(frozen=True)
class Target(Node):
    """``raise|lower|reach|hold EXPR [relative to EXPR] [by|to AMOUNT] [weight W]``."""

    verb: str
    expr: Expr
    relative: Expr | None
    amount_word: str | None  # "by" | "to" | None
    amount: Expr | None
    weight: Expr | None


@dataclass(frozen=True)
class Move(Node):
    """``move along mode(SELECTOR) by AMOUNT [weight W]``: a step along a principal direction of χ.

    ``along`` is the direction expression as written (``mode(0)``, ``mode(mean(ih))``); the checker
    reads the selector. ``amount`` is signed (a negative amount moves the other way)."""

    along: Expr
    amount_word: str | None  # "by" | "to" | None
    amount: Expr | None
    weight: Expr | None


@dataclass(frozen=True)
class SubjectTo(Node):
    constraints: tuple[Compare | Expr, ...]  # a bare expression is a statement like fixed(x)


@dataclass(frozen=True)
class Onset(Node):
    condition: Compare


@dataclass(frozen=True)
class Require(Node):
    """``require WHAT`` in a patterning block (``require resolved``)."""

    what: str


Item = Union[Setting, Target, Move, SubjectTo, Onset, Require]


@dataclass(frozen=True)
class Block(Node):
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Param(Node):
    name: str
    default: Expr | None


@dataclass(frozen=True)
class Decl(Node):
    """``KIND NAME[(params)] = value`` or ``KIND NAME[(params)] { items }``."""

    kind: str
    name: str | None
    name_span: Span | None
    params: tuple[Param, ...] | None  # None: not parameterized
    body: Expr | Block
    doc: str = ""


@dataclass(frozen=True)
class Use(Node):
    path: tuple[str, ...]
    alias: str | None

    @property
    def local_name(self) -> str:
        return self.alias or self.path[-1]


@dataclass(frozen=True)
class Module(Node):
    file: str
    uses: tuple[Use, ...]
    decls: tuple[Decl, ...]
    doc: str = ""


# ---------------------------------------------------------------------------------------------
# Canonical text


_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def show(e: Expr | Compare | None, prec: int = 0) -> str:
    """Canonical source text of an expression (``loss(markov)``, ``mean(ih) - 0.5``)."""
    if e is None:
        return ""
    if isinstance(e, Num):
        return e.text
    if isinstance(e, Str):
        return '"' + e.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(e, Bool):
        return "true" if e.value else "false"
    if isinstance(e, Auto):
        return "auto"
    if isinstance(e, Star):
        return "*"
    if isinstance(e, Name):
        return e.id
    if isinstance(e, Attr):
        return f"{show(e.obj, 9)}.{e.name}"
    if isinstance(e, Call):
        args = ", ".join((f"{a.name}={show(a.value)}" if a.name else show(a.value)) for a in e.args)
        return f"{show(e.func, 9)}({args})"
    if isinstance(e, Index):
        return f"{show(e.obj, 9)}[{show(e.index)}]"
    if isinstance(e, BinOp):
        p = _PREC[e.op]
        text = f"{show(e.left, p)} {e.op} {show(e.right, p + 1)}"
        return f"({text})" if p < prec else text
    if isinstance(e, Neg):
        return f"-{show(e.operand, 3)}"
    if isinstance(e, ListExpr):
        return "[" + ", ".join(show(i) for i in e.items) + "]"
    if isinstance(e, DictExpr):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, _, v in e.entries) + "}"
    if isinstance(e, Compare):
        parts = [show(e.operands[0])]
        for op, rhs in zip(e.ops, e.operands[1:]):
            parts += [op, show(rhs)]
        return " ".join(parts)
    if isinstance(e, Where):
        lim = f" limit {show(e.limit)}" if e.limit is not None else ""
        return f"{show(e.base)} where {show(e.condition)}{lim}"
    raise TypeError(f"not an expression: {e!r}")

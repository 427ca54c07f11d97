"""Values the checker computes from expressions. Every value keeps the span it came from.

Constants fold (``2 * 32``), observables become :class:`ObsV` trees (leaves are named observables
or primitive calls), constraint sides become :class:`LinV` (affine in the weights h'),
:class:`TrustV` (``kl``/``l2`` trust regions) or :class:`CurvedV` (anything else, with the reason it
is not affine). :class:`ErrorV` is a poison value: a problem was already reported, stay quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patternlang.errors import Span
from patternlang.plan.ir import Call as IRCall
from patternlang.plan.ir import CheckpointRef, ObsExpr


@dataclass(frozen=True)
class V:
    span: Span


@dataclass(frozen=True)
class ErrorV(V):
    """Something already reported; absorbs every operation."""


@dataclass(frozen=True)
class AnyV(V):
    """A template parameter while a template body is checked on its own: accepts anything."""


@dataclass(frozen=True)
class ConstV(V):
    value: Any
    type: str  # int | float | str | bool


@dataclass(frozen=True)
class AutoV(V):
    pass


@dataclass(frozen=True)
class AutoCallV(V):
    """``auto(name=value, ...)``: ``auto`` with settings (``draws = auto(z=3, max=2000)``);
    ``args`` are ``(name, span, value)`` as written."""

    args: tuple = ()


@dataclass(frozen=True)
class StarV(V):
    pass


@dataclass(frozen=True)
class ListV(V):
    items: tuple[V, ...]


@dataclass(frozen=True)
class DictV(V):
    entries: tuple[tuple[str, Span, V], ...]


@dataclass(frozen=True)
class RefV(V):
    """A reference to a declaration: ``kind`` is its keyword, ``key`` its entity key."""

    kind: str
    name: str
    key: tuple[str, str]  # (module key, name)


@dataclass(frozen=True)
class FuncV(V):
    """Something callable: a primitive (``prim``), a user template (``key``) or a builtin (``name``)."""

    name: str
    prim: Any = None
    key: tuple[str, str] | None = None
    builtin: bool = False
    bound: Any = None  # for methods: the object (train RefV for .step)


@dataclass(frozen=True)
class ModuleV(V):
    key: str


@dataclass(frozen=True)
class ObsV(V):
    """An observable expression tree.

    ``op``: ``leaf`` (a named observable or a primitive call; ``expr`` is its inlined form),
    ``ref`` (an observable of a susceptibility, ``source``), ``const``, ``add``, ``sub``, ``mul``,
    ``div``, ``neg``, ``mean``, ``sum``, ``index``."""

    op: str
    shape: str = "scalar"  # scalar | per_head
    children: tuple["ObsV", ...] = ()
    expr: ObsExpr | None = None
    name: str | None = None
    text: str = ""
    doc: str = ""
    value: float | None = None
    index: int | None = None
    source: str | None = None

    def to_expr(self) -> ObsExpr:
        """The fully inlined expression (leaves replaced by their definitions)."""
        if self.op == "leaf":
            assert self.expr is not None
            return self.expr
        if self.op == "const":
            return ObsExpr(op="const", value=self.value)
        if self.op == "ref":
            return ObsExpr(op="ref", source=self.source, name=self.name)
        return ObsExpr(op=self.op, operands=[c.to_expr() for c in self.children], index=self.index)

    def label(self, prec: int = 0) -> str:
        """Source-like text of the expression (``mean(ih)``, ``ih[3] - 0.5``): the name an inline
        observable gets in ``track``, ``observe`` and results."""
        if self.name or self.text:
            return self.text or self.name or ""
        if self.op == "const":
            return f"{self.value:g}"
        if self.op in ("mean", "sum"):
            return f"{self.op}({self.children[0].label()})"
        if self.op == "index":
            return f"{self.children[0].label(9)}[{self.index}]"
        if self.op == "neg":
            return f"-{self.children[0].label(3)}"
        sym, p = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "div": ("/", 2)}.get(self.op, (self.op, 1))
        text = f"{self.children[0].label(p)} {sym} {self.children[1].label(p + 1)}"
        return f"({text})" if p < prec else text

    def leaves(self) -> list["ObsV"]:
        if self.op in ("leaf", "ref"):
            return [self]
        return [leaf for c in self.children for leaf in c.leaves()]


@dataclass(frozen=True)
class CkptV(V):
    ref: CheckpointRef
    train_name: str
    key: tuple[str, str] = ("", "")  # the train declaration


@dataclass(frozen=True)
class ModelV(V):
    call: IRCall | None = None
    factory: str | None = None
    factory_args: dict = field(default_factory=dict)
    checkpoint: str | None = None
    task: str | None = None


@dataclass(frozen=True)
class DataV(V):
    call: IRCall | None = None
    factory: str | None = None
    factory_args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FiniteDiffV(V):
    """``finite_difference(c, ..., delta=0.05)``: a finite-difference check of chi."""

    delta: float  # the shift of the mixture (``eps=`` in specs written before issue 25)
    components: tuple


@dataclass(frozen=True)
class CoupledV(V):
    """``coupled(c, ..., delta=0.05, chains=N, draws=N)``: the coupled estimator of chi."""

    delta: float
    components: tuple
    chains: int = 0
    draws: int = 0


@dataclass(frozen=True)
class OptimizerV(V):
    name: str
    args: dict


@dataclass(frozen=True)
class LinV(V):
    """sum_k coeffs[k] * h'_k + const."""

    coeffs: dict
    const: float = 0.0


@dataclass(frozen=True)
class TrustV(V):
    kind: str  # kl | l2
    mixture: str


@dataclass(frozen=True)
class CurvedV(V):
    """Not affine in the weights: ``curvature`` is convex | concave | unknown; ``why`` names the part."""

    curvature: str
    why: str
    part: Span


@dataclass(frozen=True)
class FixedV(V):
    components: tuple[str, ...]


def describe(v: V) -> str:
    """What a value is, in words, for 'expected X, found Y' messages."""
    names = {ConstV: None, AutoV: "auto", AutoCallV: "auto(...)", StarV: "'*' (all heads)", ListV: "a list", DictV: "a dict",
             ObsV: "an observable", CkptV: "a checkpoint", ModelV: "a model", DataV: "a data component",
             OptimizerV: "an optimizer", LinV: "an expression in the weights", TrustV: "a trust region",
             CurvedV: "an expression in the weights", FixedV: "fixed(...)", ModuleV: "a module",
             FuncV: "a function"}
    if isinstance(v, ConstV):
        return {"int": "an integer", "float": "a number", "str": "a string", "bool": "a boolean"}[v.type] \
            + f" ({show_const(v.value)})"
    if isinstance(v, RefV):
        return f"{v.kind} '{v.name}'"
    return names.get(type(v)) or type(v).__name__


def show_const(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_const(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class FactoryV(V):
    """``factory("pkg.mod:fn", k=v)``: becomes a model or a data component where it is used."""

    target: str
    args: dict

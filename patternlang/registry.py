"""The primitive registry: Python functions the language can name.

A *primitive* is a plain Python function registered under a kind and a name, with a typed signature
the checker reads (parameter types, defaults, ranges, docs) without running it::

    from typing import Annotated
    from patternlang.registry import primitive, Range

    @primitive("data")
    def uniform_tokens(vocab: Annotated[int, Range(ge=2)] = 64,
                       length: Annotated[int, Range(ge=2)] = 32) -> "DataComponent":
        '''Uniformly random token sequences (a no-structure baseline component).

        Args:
            vocab: number of distinct tokens.
            length: sequence length in tokens.
        '''

Kinds: ``model`` (returns an ``nn.Module``), ``data`` (returns a data component) and ``observable``
(evaluated at every posterior draw; see :mod:`patternlang.observables`). Optimizers and schedules are
settings of the language (see ``OptimizerSpec`` in :mod:`patternlang.plan.ir`), not primitives. Third-party packages add primitives by exposing a module in the
``patternlang.primitives`` entry-point group; importing it registers them. Set
``PATTERNLANG_NO_PLUGINS=1`` to skip plugin discovery.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

KINDS = ("model", "data", "observable")


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Range:
    """An inclusive (``ge``/``le``) or exclusive (``gt``/``lt``) numeric range for a parameter."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def violation(self, value: float) -> str | None:
        """A human sentence saying how ``value`` breaks the range, or None if it is inside."""
        if self.ge is not None and value < self.ge:
            return f"must be >= {self.ge:g}"
        if self.gt is not None and value <= self.gt:
            return f"must be > {self.gt:g}"
        if self.le is not None and value > self.le:
            return f"must be <= {self.le:g}"
        if self.lt is not None and value >= self.lt:
            return f"must be < {self.lt:g}"
        return None


class Heads(list):
    """Type marker for a head selection: ``*`` (all heads) or a list of head indices."""


class ComponentName(str):
    """Type marker: the name of a declared data component (checked against the spec)."""


# Spec-level type names the checker understands, from Python annotations.
_TYPE_NAMES: dict[Any, str] = {
    int: "int", float: "float", str: "str", bool: "bool",
    Heads: "heads", ComponentName: "component",
}


@dataclass(frozen=True)
class Param:
    """One parameter of a primitive as the checker sees it."""

    name: str
    type: str  # int | float | str | bool | heads | component | ints | floats | any
    default: Any = REQUIRED
    doc: str = ""
    range: Range | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Primitive:
    """A registered primitive: ``fn`` plus what the checker and planner need to know about it.

    ``meta`` carries kind-specific facts, e.g. for observables ``{"shape": "per_head" | "scalar",
    "needs": ("attention",)}``; for models ``{"task": "lm" | "classify"}``.
    """

    kind: str
    name: str
    fn: Callable[..., Any]
    params: tuple[Param, ...]
    doc: str
    meta: dict = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""


_REGISTRY: dict[str, dict[str, Primitive]] = {k: {} for k in KINDS}
_LOADED = False


def _type_name(annotation: Any) -> tuple[str, Range | None]:
    rng = None
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        rng = next((e for e in extras if isinstance(e, Range)), None)
        annotation = base
    if annotation in _TYPE_NAMES:
        return _TYPE_NAMES[annotation], rng
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        inner = _TYPE_NAMES.get(args[0] if args else Any, "any")
        return (inner + "s") if inner in ("int", "float", "str") else "any", rng
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _type_name(args[0])
        names = {_type_name(a)[0] for a in args}
        if names <= {"int", "float"}:
            return "float", rng
    return "any", rng


def _param_docs(doc: str) -> dict[str, str]:
    """Parse a Google-style ``Args:`` section into {name: text}."""
    out: dict[str, str] = {}
    m = re.search(r"^\s*Args:\s*$(.*?)(^\s*(Returns|Raises|Yields|Example[s]?):|\Z)", doc, re.M | re.S)
    if not m:
        return out
    current = None
    for line in m.group(1).splitlines():
        hit = re.match(r"^\s{2,}(\w+)(\s*\(.*?\))?:\s*(.*)$", line)
        if hit and (current is None or len(line) - len(line.lstrip()) <= 8):
            current = hit.group(1)
            out[current] = hit.group(3).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def _params_of(fn: Callable[..., Any], skip: int) -> tuple[Param, ...]:
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)
    docs = _param_docs(inspect.getdoc(fn) or "")
    params = []
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i < skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        tname, rng = _type_name(hints.get(name, Any))
        default = REQUIRED if p.default is inspect.Parameter.empty else p.default
        params.append(Param(name, tname, default, docs.get(name, ""), rng))
    return tuple(params)


def primitive(kind: str, name: str | None = None, *, skip: int = 0, **meta: Any):
    """Register ``fn`` as a primitive of ``kind``.

    Args:
        kind: one of :data:`KINDS`.
        name: the name used in specs (default: the function's name).
        skip: number of leading positional parameters supplied by the engine, not the spec
            (an observable's evaluation context, say); they are hidden from the checker.
        **meta: kind-specific facts stored on :attr:`Primitive.meta`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown primitive kind {kind!r}; expected one of {KINDS}")

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        pname = name or fn.__name__
        prim = Primitive(kind, pname, fn, _params_of(fn, skip), inspect.getdoc(fn) or "", dict(meta))
        _REGISTRY[kind][pname] = prim
        return fn

    return register


def _load_builtins() -> None:
    # Importing these modules runs their @primitive decorators.
    for mod in ("patternlang.models", "patternlang.data", "patternlang.observables"):
        importlib.import_module(mod)


def _load_plugins() -> None:
    if os.environ.get("PATTERNLANG_NO_PLUGINS"):
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group="patternlang.primitives"):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the compiler
            warnings.warn(f"patternlang plugin {ep.name!r} failed to load: {exc}", stacklevel=2)


def ensure_loaded() -> None:
    """Import the built-in primitive modules and plugins once."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        _load_builtins()
        _load_plugins()


def get(kind: str, name: str) -> Primitive | None:
    """The primitive ``name`` of ``kind``, or None."""
    ensure_loaded()
    return _REGISTRY[kind].get(name)


def names(kind: str) -> list[str]:
    """All registered names of ``kind``, sorted."""
    ensure_loaded()
    return sorted(_REGISTRY[kind])


def all_primitives() -> list[Primitive]:
    """Every registered primitive, of every kind."""
    ensure_loaded()
    return [p for k in KINDS for p in _REGISTRY[k].values()]

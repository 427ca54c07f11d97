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

The front end (``patc check``, the language server) reads the built-in primitives from
:mod:`patternlang.catalog`, a generated copy of their signatures, so that checking a spec imports
neither torch nor the modules that define them; their functions are imported on first call.
:func:`write_catalog` regenerates it (``python -m patternlang.registry``; a test compares it with
the live registry), and a name the catalog lacks loads the real modules before it is called unknown.
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
    source: tuple[str, int] | None = None  # (module, first line) of the function, for the LSP

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
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _type_name(members[0])
        names = {_type_name(a)[0] for a in members}
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


class _Deferred:
    """The function of a catalogued primitive: imports the modules that define it on first call."""

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ensure_loaded()
        return _REGISTRY[self.kind][self.name].fn(*args, **kwargs)


_CATALOG: dict[str, dict[str, Primitive]] | None = None
_PLUGINS_LOADED = False


def _catalogued() -> dict[str, dict[str, Primitive]]:
    """The built-in primitives as :mod:`patternlang.catalog` records them (read once)."""
    global _CATALOG
    if _CATALOG is None:
        from patternlang.catalog import PRIMITIVES

        _CATALOG = {k: {} for k in KINDS}
        for e in typing.cast("list[dict[str, Any]]", PRIMITIVES):
            params = tuple(Param(p["name"], p["type"], p.get("default", REQUIRED), p["doc"],
                                 Range(**p["range"]) if p.get("range") else None)
                           for p in e["params"])
            _CATALOG[e["kind"]][e["name"]] = Primitive(
                e["kind"], e["name"], _Deferred(e["kind"], e["name"]), params, e["doc"],
                dict(e["meta"]), tuple(e["source"]))
    return _CATALOG


def catalog_entries() -> list[dict]:
    """The live registry's built-in primitives as :mod:`patternlang.catalog` stores them."""
    if not _LOADED:
        ensure_loaded()
    out = []
    for p in (q for k in KINDS for q in _REGISTRY[k].values()):
        if not p.fn.__module__.startswith("patternlang."):
            continue  # a plugin's
        params = []
        for q in p.params:
            item: dict[str, Any] = {"name": q.name, "type": q.type, "doc": q.doc}
            if not q.required:
                item["default"] = q.default
            if q.range is not None:
                item["range"] = {k: v for k, v in vars(q.range).items() if v is not None}
            params.append(item)
        fn = inspect.unwrap(p.fn)
        out.append({"kind": p.kind, "name": p.name, "params": params, "doc": p.doc,
                    "meta": dict(p.meta), "source": [fn.__module__, inspect.getsourcelines(fn)[1]]})
    return sorted(out, key=lambda e: (KINDS.index(e["kind"]), e["name"]))


def write_catalog(path: str | None = None) -> str:
    """Regenerate :mod:`patternlang.catalog` from the live registry; returns the path written."""
    import pprint
    from pathlib import Path

    target = Path(path or Path(__file__).with_name("catalog.py"))
    text = ('"""The built-in primitives\' signatures, generated by ``python -m patternlang.registry``'
            ' (do not\nedit): the front end reads them without importing torch (see '
            ':mod:`patternlang.registry`)."""\n\n'
            f"PRIMITIVES = {pprint.pformat(catalog_entries(), width=100, sort_dicts=False)}\n")
    target.write_text(text, encoding="utf-8")
    return str(target)


def _load_builtins() -> None:
    # Importing these modules runs their @primitive decorators.
    for mod in ("patternlang.models", "patternlang.data", "patternlang.observables"):
        importlib.import_module(mod)


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED or os.environ.get("PATTERNLANG_NO_PLUGINS"):
        return
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="patternlang.primitives"):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the compiler
            warnings.warn(f"patternlang plugin {ep.name!r} failed to load: {exc}", stacklevel=2)


def ensure_loaded() -> None:
    """Import the built-in primitive modules and plugins once (the runtime, before calling one)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        _load_builtins()
        _load_plugins()


def _known(kind: str) -> dict[str, Primitive]:
    """Primitives of ``kind`` without importing the built-in modules: plugins over the catalog
    (after :func:`ensure_loaded`, the registry itself)."""
    if _LOADED:
        return _REGISTRY[kind]
    _load_plugins()
    return {**_catalogued()[kind], **_REGISTRY[kind]}


def get(kind: str, name: str, complete: bool = True) -> Primitive | None:
    """The primitive ``name`` of ``kind``, or None.

    A name the catalog and the plugins know under no kind at all loads every module before it is
    called unknown (``complete``), so a primitive added since the catalog was written is still
    found; ``complete=False`` skips that (the checker, before it tries the language's builtins)."""
    found = _known(kind).get(name)
    if found is None and complete and not _LOADED and not any(name in _known(k) for k in KINDS):
        ensure_loaded()
        found = _REGISTRY[kind].get(name)
    return found


def names(kind: str) -> list[str]:
    """All registered names of ``kind``, sorted."""
    return sorted(_known(kind))


def all_primitives() -> list[Primitive]:
    """Every registered primitive, of every kind."""
    return [p for k in KINDS for p in _known(k).values()]


if __name__ == "__main__":  # the package's module, not this __main__ copy, holds the registry
    from patternlang import registry as _registry

    print(_registry.write_catalog())

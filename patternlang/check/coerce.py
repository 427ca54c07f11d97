"""Binding call arguments and coercing values to the types the registry and the blocks ask for.

Every ``as_*`` function returns a plain Python value, or None when the value is wrong (after
reporting it) or unknown (a template parameter in an abstract check: nothing to report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patternlang.check.scope import Evaluates, State, did_you_mean
from patternlang.check.values import (AnyV, ConstV, DataV, ErrorV, FactoryV, FuncV, ListV, ModelV,
                                      ObsV, RefV, StarV, V, describe, show_const)
from patternlang.errors import Span
from patternlang.plan.ir import Call as IRCall
from patternlang.plan.ir import ObsExpr
from patternlang.registry import Primitive, Range


Args = list[tuple[str | None, Span, V]]


def bind(s: State, fname: str, names: list[str], args: Args) -> dict | None:
    """Match positional and keyword arguments to parameter ``names`` -> {name: (span, value)}."""
    out: dict[str, tuple[Span, V]] = {}
    ok, keyword_seen = True, False
    for i, (name, sp, v) in enumerate(args):
        if name is None:
            if keyword_seen:
                s.error("PAT304", "positional argument after a keyword argument", sp,
                        "write it as name=value")
                ok = False
                continue
            if i >= len(names):
                s.error("PAT304", f"'{fname}' takes at most {len(names)} argument(s)", sp,
                        f"its parameters: {', '.join(names) or '(none)'}")
                ok = False
                continue
            name = names[i]
        else:
            keyword_seen = True
            if name not in names:
                hint = did_you_mean(name, names) or f"its parameters: {', '.join(names) or '(none)'}"
                s.error("PAT203", f"'{fname}' has no parameter '{name}'", sp, hint)
                ok = False
                continue
        if name in out:
            s.error("PAT304", f"'{name}' is given twice", sp)
            ok = False
            continue
        out[name] = (sp, v)
    return out if ok else None


def display(v: V) -> str:
    if isinstance(v, ConstV):
        return show_const(v.value)
    if isinstance(v, StarV):
        return "*"
    if isinstance(v, RefV):
        return v.name
    if isinstance(v, ListV):
        return "[" + ", ".join(display(i) for i in v.items) + "]"
    if isinstance(v, ObsV):
        return v.text or "<expr>"
    return "?"


def call_text(fname: str, names: list[str], given: dict[str, V]) -> str:
    """Canonical text of a call: ``loss(markov)``, ``induction_score(layer=1, period=8)``."""
    explicit = [n for n in names if n in given]
    if explicit == names[:1] and explicit:
        return f"{fname}({display(given[explicit[0]])})"
    return f"{fname}(" + ", ".join(f"{n}={display(given[n])}" for n in explicit) + ")"


def call_primitive(s: State, prim: Primitive, args: Args, call: Any, module: str = "") -> V:
    names = [p.name for p in prim.params]
    bound = bind(s, prim.name, names, args)
    if bound is None:
        return ErrorV(call.span)
    values: dict[str, Any] = {}
    ok = True
    for p in prim.params:
        if p.name not in bound:
            if p.required:
                s.error("PAT303", f"'{prim.name}' needs a value for '{p.name}'", call.span,
                        f"{p.name}: {p.doc}" if p.doc else None)
                ok = False
            else:
                values[p.name] = p.default
            continue
        sp, v = bound[p.name]
        if isinstance(v, AnyV):
            continue
        value = as_type(s, v, p.type, f"'{p.name}' of {prim.name}", p.range)
        if value is None:
            ok = False
        elif p.name == "path" or p.name.endswith("_path"):
            value = resolve_path(s, module, value, sp)
            ok = ok and value is not None
        values[p.name] = value
    if not ok or any(isinstance(v, AnyV) for _, v in bound.values()):
        return ErrorV(call.span) if not ok else AnyV(call.span)
    if prim.kind == "observable":
        text = call_text(prim.name, names, {k: v for k, (_, v) in bound.items()})
        expr = ObsExpr(op="prim", name=prim.name, args=values)
        return ObsV(call.span, "leaf", prim.meta.get("shape", "scalar"), expr=expr, text=text,
                    doc=prim.summary)
    if prim.kind == "model":
        return ModelV(call.span, call=IRCall(primitive=prim.name, args=values), task=prim.meta.get("task"))
    return DataV(call.span, call=IRCall(primitive=prim.name, args=values))


def resolve_path(s: State, module: str, value: str, span: Span) -> str | None:
    """A path relative to the module's directory, made absolute; it must exist."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = s.program.modules[module].dir / path if module in s.program.modules else path
    try:
        found = path.exists()
    except OSError as exc:  # ENAMETOOLONG, ELOOP: the file system cannot look it up
        s.error("PAT309", f"file '{value[:80]}{'...' if len(value) > 80 else ''}' cannot be "
                f"looked up: {exc.strerror or exc}", span, "give a shorter path")
        return None
    if not found:
        s.error("PAT309", f"file '{value}' not found", span, f"looked at {path}")
        return None
    return str(path.resolve())


# ---------------------------------------------------------------------------------------------
# Scalars


def wrong(s: State, v: V, expected: str, what: str) -> None:
    """Report that ``v`` (for ``what``) is not ``expected`` (PAT301, "expected X, found Y")."""
    s.error("PAT301", f"{what} must be {expected}, found {describe(v)}", v.span)


def _range(s: State, v: V, value: float, what: str, rng: Range | None) -> bool:
    bad = rng.violation(value) if rng else None
    if bad:
        s.error("PAT302", f"{what} {bad}, found {show_const(value)}", v.span)
        return False
    return True


def as_int(s: State, v: V, what: str, rng: Range | None = None) -> int | None:
    if isinstance(v, (ErrorV, AnyV)):
        return None
    if not (isinstance(v, ConstV) and v.type == "int"):
        wrong(s, v, "an integer", what)
        return None
    return v.value if _range(s, v, v.value, what, rng) else None


def as_float(s: State, v: V, what: str, rng: Range | None = None) -> float | None:
    if isinstance(v, (ErrorV, AnyV)):
        return None
    if not (isinstance(v, ConstV) and v.type in ("int", "float")):
        wrong(s, v, "a number", what)
        return None
    return float(v.value) if _range(s, v, v.value, what, rng) else None


def as_scalar(s: State, v: V, type_: str, what: str) -> Any:
    if isinstance(v, (ErrorV, AnyV)):
        return None
    if isinstance(v, ConstV) and v.type == type_:
        return v.value
    wrong(s, v, {"str": "a string", "bool": "true or false"}[type_], what)
    return None


def as_component(s: State, v: V, what: str) -> str | None:
    if isinstance(v, (ErrorV, AnyV)):
        return None
    if isinstance(v, RefV) and v.kind in ("data", "probe"):
        s.components_used.setdefault(v.name, v.key)
        return v.name
    wrong(s, v, "the name of a data component or probe", what)
    return None


def as_heads(s: State, v: V, what: str) -> Any:
    if isinstance(v, StarV):
        return "*"
    if isinstance(v, ConstV) and v.type == "int":
        return [as_int(s, v, what, Range(ge=0))]
    if isinstance(v, ListV):
        heads = [as_int(s, i, what, Range(ge=0)) for i in v.items]
        return None if None in heads else heads
    if not isinstance(v, (ErrorV, AnyV)):
        wrong(s, v, "'*' (all heads), a head index or a list of them", what)
    return None


def as_type(s: State, v: V, type_: str, what: str, rng: Range | None = None) -> Any:
    """Coerce to a registry parameter type (int, float, str, bool, heads, component, ints, ...)."""
    if type_ == "int":
        return as_int(s, v, what, rng)
    if type_ == "float":
        return as_float(s, v, what, rng)
    if type_ in ("str", "bool"):
        return as_scalar(s, v, type_, what)
    if type_ == "heads":
        return as_heads(s, v, what)
    if type_ == "component":
        return as_component(s, v, what)
    if type_ in ("ints", "floats", "strs"):
        items = v.items if isinstance(v, ListV) else (v,)
        out = [as_type(s, i, type_[:-1], what, rng) for i in items]
        return None if None in out else out
    return _plain(s, v, what)


def _plain(s: State, v: V, what: str) -> Any:
    if isinstance(v, ConstV):
        return v.value
    if isinstance(v, StarV):
        return "*"
    if isinstance(v, ListV):
        out = [_plain(s, i, what) for i in v.items]
        return None if None in out else out
    if isinstance(v, RefV) and v.kind in ("data", "probe"):
        return as_component(s, v, what)
    if not isinstance(v, (ErrorV, AnyV)):
        wrong(s, v, "a number, string, boolean or list", what)
    return None


# ---------------------------------------------------------------------------------------------
# Declarations and observables


def as_observable(ev: Evaluates, v: V, what: str = "this") -> ObsV | None:
    s = ev.s
    if isinstance(v, ObsV):
        return v
    if isinstance(v, FuncV) and v.prim is not None and v.prim.kind == "observable":
        if all(not p.required for p in v.prim.params):
            out = call_primitive(s, v.prim, [], _At(v.span))
            return out if isinstance(out, ObsV) else None
    if isinstance(v, FuncV) and v.key is not None and s.decl(v.key).kind == "observable":
        decl = s.decl(v.key)
        if all(p.default is not None for p in decl.params or ()):
            out = ev.instantiate(v, [], None)
            return out if isinstance(out, ObsV) else None
        missing = [p.name for p in decl.params or () if p.default is None]
        s.error("PAT303", f"'{v.name}' needs a value for '{missing[0]}'", v.span,
                f"call it, e.g. {v.name}({missing[0]}=...)")
        return None
    if not isinstance(v, (ErrorV, AnyV)):
        wrong(s, v, "an observable", what)
    return None


class _At:
    def __init__(self, span: Span):
        self.span = span


def as_ref(s: State, v: V, kinds: tuple[str, ...], what: str) -> RefV | None:
    if isinstance(v, RefV) and v.kind in kinds:
        return v
    if isinstance(v, FuncV) and v.key is not None:
        s.error("PAT305", f"{what} must be {' or '.join(kinds)}, found template '{v.name}'", v.span,
                f"call it with its parameters: {v.name}(...)")
        return None
    if not isinstance(v, (ErrorV, AnyV)):
        wrong(s, v, "a " + " or ".join(kinds), what)
    return None


def as_list(v: V) -> list[V]:
    return list(v.items) if isinstance(v, ListV) else [v]


def factory_as(v: V, kind: str) -> V:
    """A ``factory(...)`` value read as a model or data component (other values unchanged)."""
    if isinstance(v, FactoryV):
        cls = ModelV if kind == "model" else DataV
        return cls(v.span, factory=v.target, factory_args=v.args)
    return v


def as_model(ev: Evaluates, v: V, what: str) -> ModelV | None:
    if isinstance(v, RefV) and v.kind == "model":
        v = ev.s.resolve(v.key)
    v = factory_as(v, "model")
    if isinstance(v, ModelV):
        return v
    if isinstance(v, FuncV) and v.prim is not None and v.prim.kind == "model":
        out = call_primitive(ev.s, v.prim, [], _At(v.span))
        return out if isinstance(out, ModelV) else None
    if not isinstance(v, (ErrorV, AnyV)):
        wrong(ev.s, v, "a model", what)
    return None


def as_data(ev: Evaluates, v: V, what: str) -> DataV | None:
    v = factory_as(v, "data")
    if isinstance(v, DataV):
        return v
    if not isinstance(v, (ErrorV, AnyV)):
        wrong(ev.s, v, "a data component (a generator call, a file or a factory)", what)
    return None

"""Text for ``patc stdlib``: the stdlib modules and their documented definitions, and the
registered primitives (models, data, observables) with what each does; for an observable also the
probe it is measured on and its chance level (the value a model that learned nothing gets)."""

from __future__ import annotations

from patternlang import registry
from patternlang.check.modules import STDLIB_DIR, stdlib_modules
from patternlang.errors import PatUsageError
from patternlang.syntax import ast as A
from patternlang.syntax.parser import parse


def _signature(d: A.Decl) -> str:
    params = ""
    if d.params is not None:
        params = "(" + ", ".join(p.name + (f"={A.show(p.default)}" if p.default else "")
                                 for p in d.params) + ")"
    return f"{d.kind} {d.name}{params}"


def list_modules() -> str:
    lines = ["stdlib modules (use stdlib.NAME; details: patc stdlib NAME):"]
    for name in stdlib_modules():
        mod = parse((STDLIB_DIR / f"{name}.pat").read_text(encoding="utf-8"), f"stdlib/{name}.pat")
        first = mod.doc.splitlines()[0] if mod.doc else ""
        lines.append(f"  {name:8} {first}")
    return "\n".join(lines + [""] + list_primitives())


def list_primitives() -> list[str]:
    """One entry per primitive: signature, summary and, for observables, probe and chance level."""
    lines = ["primitives (details: patc stdlib NAME):"]
    for kind in registry.KINDS:
        for name in registry.names(kind):
            p = registry.get(kind, name)
            assert p is not None
            lines.append(f"  {kind} {name}({', '.join(q.name for q in p.params)})")
            lines.append(f"      {first_sentence(p.doc)}")
            if "probe" in p.meta:
                lines.append(f"      probe: {p.meta['probe']}; chance: {p.meta.get('chance', '?')}")
    return lines


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring, on one line."""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    end = para.find(". ")
    return para if end < 0 else para[:end + 1]


def _range_text(r: registry.Range) -> str:
    parts = [f"{op} {v:g}" for op, v in ((">=", r.ge), (">", r.gt), ("<=", r.le), ("<", r.lt)) if v is not None]
    return " and ".join(parts)


def describe_primitive(p: registry.Primitive) -> str:
    """A primitive's full documentation: parameters with types, defaults and ranges, and doc."""
    lines = [f"{p.kind} primitive {p.name}", ""]
    for q in p.params:
        default = "required" if q.required else f"default {q.default!r}"
        rng = f", {_range_text(q.range)}" if q.range else ""
        lines.append(f"  {q.name}: {q.type} ({default}{rng})  {q.doc}")
    if "probe" in p.meta:
        lines += ["", f"probe: {p.meta['probe']}", f"chance level: {p.meta.get('chance', '?')}"]
    return "\n".join(lines + ["", p.doc.split("\nArgs:")[0].strip()])


def describe_module(name: str) -> str:
    name = name.removeprefix("stdlib.")
    path = STDLIB_DIR / f"{name}.pat"
    if not path.is_file():
        prim = next((p for k in registry.KINDS if (p := registry.get(k, name))), None)
        if prim is not None:
            return describe_primitive(prim)
        raise PatUsageError(f"no stdlib module or primitive '{name}'; the modules are: "
                            f"{', '.join(stdlib_modules())} (patc stdlib lists the primitives)")
    mod = parse(path.read_text(encoding="utf-8"), f"stdlib/{name}.pat")
    lines = [f"stdlib.{name}: {mod.doc}", ""]
    for d in mod.decls:
        lines.append(_signature(d))
        for doc_line in (d.doc or "(undocumented)").splitlines():
            lines.append(f"    {doc_line}")
    return "\n".join(lines)

"""Text for ``patc stdlib``: the stdlib modules and their documented definitions."""

from __future__ import annotations

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
    return "\n".join(lines)


def describe_module(name: str) -> str:
    name = name.removeprefix("stdlib.")
    path = STDLIB_DIR / f"{name}.pat"
    if not path.is_file():
        raise PatUsageError(f"no stdlib module '{name}'; there are: {', '.join(stdlib_modules())}")
    mod = parse(path.read_text(encoding="utf-8"), f"stdlib/{name}.pat")
    lines = [f"stdlib.{name}: {mod.doc}", ""]
    for d in mod.decls:
        lines.append(_signature(d))
        for doc_line in (d.doc or "(undocumented)").splitlines():
            lines.append(f"    {doc_line}")
    return "\n".join(lines)

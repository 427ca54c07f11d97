"""What the language server knows about a document, without any LSP machinery: diagnostics (the
checker's, as ``patc check`` prints them), the word at a position, hover text, completions and
definitions. Positions here are 0-based (line, character), as in LSP; spans are the checker's
1-based ones.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from patternlang import registry
from patternlang.check.blocks import SCHEMAS
from patternlang.check.builtins import BUILTINS
from patternlang.check.modules import Module, Program, load_program, resolve
from patternlang.check.scope import build_scopes
from patternlang.compiler import check_source
from patternlang.errors import Diagnostic, PatSpecError, Span
from patternlang.syntax import ast as A
from patternlang.syntax.parser import KEYWORDS, parse, scan

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_USE = re.compile(r"^\s*use\s+([A-Za-z_][\w.]*)")
TARGET_WORDS = ("raise", "lower", "reach", "hold", "subject to", "onset")


@dataclass(frozen=True)
class Location:
    """A place in a file: its path and 1-based span (line, column, end line, end column)."""

    path: Path
    span: Span


def diagnostics(text: str, path: str, search_path: list[str] | None = None) -> list[Diagnostic]:
    """The checker's diagnostics for ``text`` (the document at ``path``). Problems in an imported
    module are reported at the ``use`` line that brings it in, with the module's file named."""
    try:
        check_source(text, path, search_path)
    except PatSpecError as exc:
        return [_local(d, text, path) for d in exc.diagnostics]
    return []


def _local(d: Diagnostic, text: str, path: str) -> Diagnostic:
    if d.span is not None and d.span.file == path:
        return d
    where = f"{d.span}: " if d.span else ""
    line = next((i + 1 for i, ln in enumerate(text.splitlines()) if _USE.match(ln)), 1)
    return Diagnostic(d.code, f"{where}{d.message}", Span(path, line, 1, line, 200), d.hint, d.severity)


def word_at(text: str, line: int, char: int) -> tuple[str, str]:
    """(qualifier, word) under the cursor: ``("lm", "attn2")`` on ``lm.attn2``, ``("", "x")``."""
    lines = text.splitlines()
    if line >= len(lines):
        return "", ""
    src = lines[line]
    for m in _WORD.finditer(src):
        if m.start() <= char <= m.end():
            before = src[:m.start()]
            q = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.$", before)
            return (q.group(1) if q else ""), m.group()
    return "", ""


def load(text: str, path: str, search_path: list[str] | None = None) -> Program | None:
    """The document and the modules it uses, parsed (None while it has a syntax error)."""
    try:
        return load_program(text, path, search_path)
    except PatSpecError:
        return None


def _module_file(mod: Module) -> Path:
    return mod.dir / Path(mod.key).name


def _decl_of(program: Program, qualifier: str, name: str) -> tuple[Module, A.Decl] | None:
    root = program.root
    if qualifier:
        dep = root.imports.get(qualifier)
        decls = [(dep, d) for d in dep.ast.decls if d.name == name] if dep else []
        return decls[0] if decls else None
    scope = build_scopes(program)[root.key]
    for key, decl in scope.lookup(name):
        return program.modules[key], decl
    return None


def _signature(d: A.Decl) -> str:
    params = "" if d.params is None else "(" + ", ".join(
        p.name + (f"={A.show(p.default)}" if p.default is not None else "") for p in d.params) + ")"
    body = f" = {A.show(d.body)}" if not isinstance(d.body, A.Block) else " { ... }"
    return f"{d.kind} {d.name}{params}{body}"


def primitive_signature(p: registry.Primitive) -> str:
    args = []
    for prm in p.params:
        default = "" if prm.required else f" = {prm.default!r}"
        args.append(f"{prm.name}: {prm.type}{default}")
    return f"{p.kind} primitive {p.name}({', '.join(args)})"


def _primitive(name: str) -> registry.Primitive | None:
    return next((p for k in registry.KINDS if (p := registry.get(k, name)) is not None), None)


def _used_module(text: str, path: str, line: int,
                 search_path: list[str] | None) -> tuple[str, Path | None] | None:
    """On a ``use a.b`` line: the dotted name and the module file (None if not found)."""
    m = _USE.match(text.splitlines()[line])
    if not m:
        return None
    return m.group(1), resolve(tuple(m.group(1).split(".")), Path(path).resolve().parent, search_path)


def _block_kind(text: str, line: int, char: int) -> str | None:
    """The kind of the declaration whose block encloses the position (None outside a block, or
    inside ``subject to { }`` / a dict)."""
    offset = sum(len(ln) + 1 for ln in text.splitlines()[:line]) + char
    toks = [t for t in scan(text) if t.start < offset]
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.text in "([{":
            stack.append(i)
        elif t.text in ")]}" and stack:
            stack.pop()
    if not stack or toks[stack[-1]].text != "{" or len(stack) > 1:
        return None
    i = stack[-1]
    if i == 0 or toks[i - 1].text in ("=", "to"):
        return None
    for t in reversed(toks[:i]):
        if t.text in KEYWORDS:
            return t.text
    return None


def hover(text: str, path: str, line: int, char: int, search_path: list[str] | None = None) -> str | None:
    """Markdown for the word at the position: a declaration's signature and doc, a primitive's
    signature, doc and parameters, a built-in's doc, a block setting's meaning, a module's doc."""
    qualifier, word = word_at(text, line, char)
    if not word:
        return None
    used = _used_module(text, path, line, search_path)
    if used:
        dotted, f = used
        if f is not None:
            return f"**use {dotted}** ({f.name})\n\n{parse(f.read_text(encoding='utf-8'), f.name).doc}"
    kind = _block_kind(text, line, char)
    if kind and word in SCHEMAS.get(kind, {}) and not qualifier and _is_key(text, line, word):
        return f"**{kind}.{word}**: {SCHEMAS[kind][word]}"
    program = load(text, path, search_path)
    found = _decl_of(program, qualifier, word) if program else None
    if found:
        mod, d = found
        where = "" if mod.is_root else f" (from {mod.key})"
        return f"```pat\n{_signature(d)}\n```\n{d.doc or '(undocumented)'}{where}"
    p = _primitive(word)
    if p is not None:
        params = "\n".join(f"* `{q.name}`: {q.doc}" for q in p.params if q.doc)
        doc = p.doc.strip().split("\nArgs:")[0].strip()
        return f"```\n{primitive_signature(p)}\n```\n{doc}" + (f"\n\n{params}" if params else "")
    if word in BUILTINS:
        return BUILTINS[word]
    return None


def _is_key(text: str, line: int, word: str) -> bool:
    return re.search(rf"(^|[{{\s]){word}\s*=(?!=)", text.splitlines()[line]) is not None


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "setting" | "declaration" | "primitive" | "builtin" | "keyword"
    detail: str


def completions(text: str, path: str, line: int, char: int,
                search_path: list[str] | None = None) -> list[Completion]:
    """Names that fit at the position: after ``alias.`` the module's definitions; inside a block its
    settings (and the target words in a patterning), then declarations in scope, primitives and
    built-ins; at the top level the declaration keywords."""
    src = text.splitlines()[line][:char] if line < len(text.splitlines()) else ""
    program = load(text, path, search_path) or load(_without_line(text, line), path, search_path)
    q = re.search(r"([A-Za-z_]\w*)\.[A-Za-z_]*$", src)
    if q and program and q.group(1) in program.root.imports:
        dep = program.root.imports[q.group(1)]
        return [Completion(d.name, "declaration", _signature(d)) for d in dep.ast.decls if d.name]
    out: list[Completion] = []
    kind = _block_kind(text, line, char)
    at_key = re.search(r"(^|[{\s])[A-Za-z_]*$", src) is not None and "=" not in src.split("  ")[-1]
    if kind in SCHEMAS and at_key:
        out += [Completion(k, "setting", v) for k, v in SCHEMAS[kind].items()]
        if kind == "patterning":
            out += [Completion(w, "keyword", "a target or constraint") for w in TARGET_WORDS]
    if kind is None and not src.strip():
        return [Completion(k, "keyword", "declaration") for k in KEYWORDS]
    if program:
        scope = build_scopes(program)[program.root.key]
        for name in scope.names():
            mod_decl = _decl_of(program, "", name)
            if mod_decl:
                out.append(Completion(name, "declaration", _signature(mod_decl[1])))
    for k in registry.KINDS:
        for name in registry.names(k):
            p = registry.get(k, name)
            out.append(Completion(name, "primitive", primitive_signature(p) if p else k))
    out += [Completion(k, "builtin", v) for k, v in BUILTINS.items()]
    return out


def _without_line(text: str, line: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[:line] + [""] + lines[line + 1:])


def definition(text: str, path: str, line: int, char: int,
               search_path: list[str] | None = None) -> Location | None:
    """Where the word at the position is defined: a ``use`` line's module file, a declaration
    (in this file or an imported module), or a primitive's Python source."""
    qualifier, word = word_at(text, line, char)
    if not word:
        return None
    used = _used_module(text, path, line, search_path)
    if used:
        f = used[1]
        return Location(f, Span(str(f), 1, 1, 1, 1)) if f else None
    program = load(text, path, search_path)
    found = _decl_of(program, qualifier, word) if program else None
    if found:
        mod, d = found
        span = d.name_span or d.span
        return Location(Path(path) if mod.is_root else _module_file(mod), span)
    p = _primitive(word)
    if p is not None:
        where = _primitive_source(p)
        if where is None:
            return None
        src, first = where
        return Location(src, Span(str(src), first, 1, first, 1))
    return None


def _primitive_source(p: registry.Primitive) -> tuple[Path, int] | None:
    """The file and first line of a primitive's function: from the catalog for the built-in ones
    (their modules import torch, which the language server does not load), else by inspection."""
    if p.source is not None:
        module, first = p.source
        parts = module.split(".")
        if parts[0] == "patternlang":
            return Path(__file__).resolve().parents[1].joinpath(*parts[1:]).with_suffix(".py"), first
    try:
        fn = inspect.unwrap(p.fn)
        return Path(inspect.getsourcefile(fn) or ""), inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return None

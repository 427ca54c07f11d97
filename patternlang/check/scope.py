"""Symbol tables and the shared checking state (diagnostics, memoised entities, cycle stack)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from patternlang.check.modules import Module, Program
from patternlang.errors import Diagnostic, Span
from patternlang.syntax import ast as A
from patternlang.check.values import ErrorV, FuncV, V

Key = tuple[str, str]  # (module key, declaration name)

# Declarations that are values (usable from other modules) vs. steps of the experiment.
DEFINITION_KINDS = ("model", "data", "probe", "mixture", "sampler", "observable")


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


@dataclass
class Scope:
    """Names visible in one module: its own declarations, then those of the modules it uses."""

    module: Module
    own: dict[str, A.Decl] = field(default_factory=dict)
    imported: dict[str, list[tuple[str, A.Decl]]] = field(default_factory=dict)

    def lookup(self, name: str) -> list[tuple[str, A.Decl]]:
        if name in self.own:
            return [(self.module.key, self.own[name])]
        return self.imported.get(name, [])

    def names(self) -> list[str]:
        return sorted({*self.own, *self.imported})


def build_scopes(program: Program) -> dict[str, Scope]:
    scopes: dict[str, Scope] = {}
    for key, mod in program.modules.items():
        scope = Scope(mod)
        for d in mod.ast.decls:
            if d.name and d.kind != "verify" and d.name not in scope.own:
                scope.own[d.name] = d
        scopes[key] = scope
    for key, scope in scopes.items():
        for alias, dep in scope.module.imports.items():
            for d in dep.ast.decls:
                if d.name and d.kind in DEFINITION_KINDS:
                    entries = scope.imported.setdefault(d.name, [])
                    if all(k != dep.key for k, _ in entries):
                        entries.append((dep.key, d))
    return scopes


@dataclass
class State:
    """Everything the checker accumulates while it walks a program."""

    program: Program
    scopes: dict[str, Scope]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    memo: dict[Key, Any] = field(default_factory=dict)
    stack: list[tuple[Key, Span]] = field(default_factory=list)
    resolver: Callable[[Key], Any] | None = None
    components_used: dict[str, Key] = field(default_factory=dict)  # component name -> its declaration

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> ErrorV:
        self.diagnostics.append(Diagnostic(code, message, span, hint))
        return ErrorV(span) if span else ErrorV(Span("<unknown>", 1, 1, 1, 1))

    def decl(self, key: Key) -> A.Decl:
        return self.scopes[key[0]].own[key[1]]

    def enter(self, key: Key, span: Span) -> bool:
        """Push ``key``; on re-entry report the cycle and return False."""
        keys = [k for k, _ in self.stack]
        if key in keys:
            chain = [k[1] for k in keys[keys.index(key):]] + [key[1]]
            first = self.stack[keys.index(key)][1]
            self.error("PAT503", f"cycle: {' -> '.join(chain)}", first,
                       "a declaration cannot depend on itself, directly or through others")
            return False
        self.stack.append((key, span))
        return True

    def leave(self) -> None:
        self.stack.pop()

    def resolve(self, key: Key) -> Any:
        """The checked value of a declaration (memoised; cycles reported once)."""
        if key in self.memo:
            return self.memo[key]
        assert self.resolver is not None
        decl = self.decl(key)
        if not self.enter(key, decl.name_span or decl.span):
            return ErrorV(decl.span)
        try:
            value = self.resolver(key)
        finally:
            self.leave()
        self.memo[key] = value
        return value


Env = dict[str, V]
"""Template parameters in scope while evaluating an expression: name -> value."""


class Evaluates(Protocol):
    """What the builtins and coercions need of the evaluator (``check.evaluator.Evaluator``): the
    checker state and expression evaluation. Typing against this keeps those modules below the
    evaluator in the import order."""

    s: State

    def eval(self, e: A.Expr, module: str, env: Env) -> V: ...

    def instantiate(self, f: FuncV, args: list, call: A.Call | None) -> V: ...

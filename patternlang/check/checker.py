"""The checker: every declaration of every module, all problems at once, sorted by position.

``check_program`` resolves each declaration lazily and once (so references may point forward and
cycles are found where they close), collects :class:`~patternlang.errors.Diagnostic` objects on the
shared state, and returns the root spec's steps as :class:`~patternlang.check.entities.Checked`, or
raises :class:`~patternlang.errors.PatSpecError` holding every diagnostic.
"""

from __future__ import annotations

from typing import Any

from patternlang.check import definitions as D
from patternlang.check import experiment as X
from patternlang.check import susceptibility, verify
from patternlang.check.entities import Checked, PatterningE
from patternlang.check.evaluator import Evaluator
from patternlang.check.modules import Program
from patternlang.check.patterning import check_patterning
from patternlang.check.scope import DEFINITION_KINDS, State, build_scopes, did_you_mean
from patternlang.errors import Diagnostic, PatSpecError, Span
from patternlang.syntax import ast as A

MAX_DIAGNOSTICS = 50

_HANDLERS = {"model": D.check_model, "data": D.check_data, "probe": D.check_data, "mixture": D.check_mixture,
             "sampler": D.check_sampler, "observable": D.check_observable, "train": X.check_train,
             "susceptibility": susceptibility.check_susceptibility, "measure": X.check_measure,
             "patterning": check_patterning}
_BLOCK_KINDS = ("train", "sampler", "susceptibility", "patterning", "verify", "measure", "output")


def checking_state(program: Program) -> tuple[State, Evaluator]:
    """The state and evaluator that check ``program``: scopes built, and declarations resolved on
    demand by the handler of their kind (``state.resolve(key)``)."""
    state = State(program, build_scopes(program), list(program.diagnostics))
    ev = Evaluator(state)

    def resolve(key: tuple[str, str]) -> Any:
        decl = state.decl(key)
        return _HANDLERS[decl.kind](ev, key, decl)

    state.resolver = resolve
    return state, ev


def check_program(program: Program) -> Checked:
    state, ev = checking_state(program)
    if not program.root.ast.decls and not state.diagnostics:
        state.error("PAT507", f"{program.root.key} is empty: it declares nothing to check or run",
                    Span(program.root.key, 1, 1, 1, 2),
                    "declare a model, data and a train block (see specs/quickstart.pat)")
    steps: list[Any] = []
    for key, mod in program.modules.items():
        _check_names(state, mod.ast)
        for decl in mod.ast.decls:
            if not _shape_ok(state, decl, mod.is_root):
                continue
            value = _check_decl(ev, state, key, decl)
            if mod.is_root and decl.kind in ("train", "susceptibility", "measure", "patterning",
                                             "verify", "output"):
                steps.append(value)
    diags = _dedupe(state.diagnostics)
    if diags:
        raise PatSpecError(diags[:MAX_DIAGNOSTICS], program.sources)
    factories = sorted({f for st in steps for f in _factories(st)})
    return Checked(program.root.key, steps, factories)


def _check_decl(ev: Evaluator, state: State, module: str, decl: A.Decl) -> Any:
    if decl.kind == "verify":
        return _check_verify(ev, state, module, decl)
    if decl.kind == "output":
        return X.check_output(ev, (module, ""), decl)
    if decl.params is not None:
        D.check_template(ev, decl, module)
        return None
    key = (module, decl.name or "")
    if state.scopes[module].own.get(decl.name or "") is not decl:
        return None  # a duplicate, already reported
    return state.resolve(key)


def _check_verify(ev: Evaluator, state: State, module: str, decl: A.Decl) -> Any:
    target = state.scopes[module].own.get(decl.name or "")
    if target is None or target.kind != "patterning":
        pats = [n for n, d in state.scopes[module].own.items() if d.kind == "patterning"]
        state.error("PAT201", f"'verify {decl.name}' names no patterning", decl.name_span or decl.span,
                    did_you_mean(decl.name or "", pats) or
                    "write verify P { ... } where P is a patterning declared in this spec")
        return None
    pat = state.resolve((module, target.name or ""))
    if not isinstance(pat, PatterningE):
        return None
    return verify.check_verify(ev, module, decl, pat)


def _shape_ok(state: State, decl: A.Decl, is_root: bool) -> bool:
    """Structural rules: names, '=' vs block, what may live in an imported module."""
    if not is_root and decl.kind not in DEFINITION_KINDS:
        state.error("PAT505", f"a module can define {', '.join(DEFINITION_KINDS)}; '{decl.kind}' "
                              "belongs in a spec", decl.span, "move it to the spec that uses this module")
        return False
    if decl.name is None and decl.kind != "output":
        state.error("PAT506", f"this {decl.kind} needs a name: {decl.kind} NAME ...", decl.span)
        return False
    if decl.kind in _BLOCK_KINDS and decl.kind != "sampler" and not isinstance(decl.body, A.Block):
        state.error("PAT505", f"a {decl.kind} is a block: {decl.kind} {decl.name or ''} {{ ... }}",
                    decl.body.span)
        return False
    if decl.params is not None and decl.kind not in ("model", "data", "probe", "observable"):
        state.error("PAT505", f"a {decl.kind} cannot take parameters; only models, data and observables do",
                    decl.span)
        return False
    return True


def _check_names(state: State, module: A.Module) -> None:
    seen: dict[str, A.Decl] = {}
    for d in module.decls:
        if not d.name or d.kind in ("verify", "output"):
            continue
        if d.name in seen:
            first = seen[d.name]
            state.error("PAT501", f"'{d.name}' is already declared (a {first.kind} at line "
                                  f"{first.span.line})", d.name_span or d.span, "rename one of them")
        else:
            seen[d.name] = d
    verifies: dict[str, A.Decl] = {}
    for d in module.decls:
        if d.kind == "verify" and d.name:
            if d.name in verifies:
                state.error("PAT501", f"'{d.name}' is verified twice", d.name_span or d.span,
                            "merge the two verify blocks")
            verifies.setdefault(d.name, d)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for d in sorted(diags, key=Diagnostic.sort_key):
        k = (d.code, d.span, d.message)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


def _factories(step: Any) -> list[str]:
    out = []
    for attr in ("model",):
        m = getattr(step, attr, None)
        if m is not None and getattr(m, "factory", None):
            out.append(m.factory)
    for c in getattr(step, "components", []) or []:
        if c.factory:
            out.append(c.factory)
    return out

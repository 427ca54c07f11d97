"""Expressions -> values (:mod:`patternlang.check.values`), resolving names as it goes.

Name lookup order: template parameters, module aliases (``lm.x``), declarations in scope, registered
primitives (from :mod:`patternlang.registry`, never hard-coded), then the language's builtins.
Problems are reported on the shared :class:`~patternlang.check.scope.State` and turn into
:class:`ErrorV`, so one mistake gives one diagnostic.
"""

from __future__ import annotations

from patternlang import registry
from patternlang.check import builtins, coerce
from patternlang.check.scope import Env, State, did_you_mean
from patternlang.check.values import (AnyV, ConstV, CurvedV, DictV, ErrorV, FuncV, LinV,
                                      ListV, ModuleV, ObsV, RefV, StarV, AutoV, AutoCallV, TrustV, V,
                                      describe)
from patternlang.errors import Span
from patternlang.syntax import ast as A


class Evaluator:
    def __init__(self, state: State):
        self.s = state

    # ------------------------------------------------------------------------------------------
    def eval(self, e: A.Expr, module: str, env: Env) -> V:
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e, module, env)

    def _num(self, e: A.Num, module, env) -> V:
        return number(e.span, e.value, "int" if e.is_int else "float", self.s, e.text)

    def _str(self, e: A.Str, module, env) -> V:
        return ConstV(e.span, e.value, "str")

    def _bool(self, e: A.Bool, module, env) -> V:
        return ConstV(e.span, e.value, "bool")

    def _auto(self, e, module, env) -> V:
        return AutoV(e.span)

    def _star(self, e, module, env) -> V:
        return StarV(e.span)

    def _listexpr(self, e: A.ListExpr, module, env) -> V:
        return ListV(e.span, tuple(self.eval(i, module, env) for i in e.items))

    def _dictexpr(self, e: A.DictExpr, module, env) -> V:
        seen: set[str] = set()
        for k, ks, _ in e.entries:
            if k in seen:
                self.s.error("PAT502", f"'{k}' appears twice in this dict", ks)
            seen.add(k)
        return DictV(e.span, tuple((k, ks, self.eval(v, module, env)) for k, ks, v in e.entries))

    def _where(self, e: A.Where, module, env) -> V:
        return builtins.where(self, e, module, env)

    # -- names ---------------------------------------------------------------------------------
    def _name(self, e: A.Name, module: str, env: Env) -> V:
        if e.id in env:
            return env[e.id]  # keeps the argument's span: errors point at the call site
        scope = self.s.scopes[module]
        if e.id in scope.module.imports and e.id not in scope.own:
            return ModuleV(e.span, scope.module.imports[e.id].key)
        hits = scope.lookup(e.id)
        if len(hits) > 1:
            mods = " or ".join(f"{m}" for m, _ in hits)
            return self.s.error("PAT206", f"'{e.id}' is defined by several modules ({mods})", e.span,
                                "qualify it with the module name, e.g. lm." + e.id)
        if hits:
            return self.decl_value(hits[0][0], hits[0][1], e.span)
        return self.global_name(e.id, e.span, module, list(env))

    def global_name(self, name: str, span: Span, module: str, extra: list[str]) -> V:
        for complete in (False, True):  # a builtin (mean, factory) must not load every primitive
            for kind in registry.KINDS:
                prim = registry.get(kind, name, complete=complete)
                if prim is not None:
                    return FuncV(span, name, prim=prim)
            if name in builtins.BUILTINS:
                return FuncV(span, name, builtin=True)
        candidates = [*extra, *self.s.scopes[module].names(), *builtins.BUILTINS,
                      *(n for k in registry.KINDS for n in registry.names(k))]
        hint = did_you_mean(name, candidates)
        missing = self.s.program.failed.get(module)
        if missing:
            hint = (hint + " or " if hint else "") + \
                f"perhaps it is defined by {', '.join(missing)}, which was not found"
        return self.s.error("PAT201", f"unknown name '{name}'", span,
                            hint or "declare it, import a module that defines it (use stdlib.lm), "
                                    "or see `patc stdlib` for what exists")

    def decl_value(self, module: str, decl: A.Decl, span: Span) -> V:
        key = (module, decl.name or "")
        if decl.params is not None:
            return FuncV(span, decl.name or "", key=key)
        if decl.kind == "observable":
            v = self.s.resolve(key)
            if isinstance(v, ObsV):
                return ObsV(span, "leaf", v.shape, expr=v.to_expr(), name=decl.name, text=decl.name or "",
                            doc=decl.doc)
            return v if isinstance(v, ErrorV) else ErrorV(span)
        return RefV(span, decl.kind, decl.name or "", key)

    def _attr(self, e: A.Attr, module: str, env: Env) -> V:
        obj = self.eval(e.obj, module, env)
        if isinstance(obj, (ErrorV, AnyV)):
            return obj
        if isinstance(obj, ModuleV):
            scope = self.s.scopes[obj.key]
            decl = scope.own.get(e.name)
            if decl is None:
                return self.s.error("PAT201", f"module '{obj.key}' has no declaration '{e.name}'", e.span,
                                    did_you_mean(e.name, list(scope.own)))
            return self.decl_value(obj.key, decl, e.span)
        if isinstance(obj, RefV) and obj.kind == "train":
            return builtins.train_attr(self, obj, e)
        if isinstance(obj, RefV) and obj.kind == "susceptibility":
            return builtins.susceptibility_attr(self, obj, e)
        return self.s.error("PAT301", f"{describe(obj)} has no attribute '{e.name}'", e.span)

    # -- calls ---------------------------------------------------------------------------------
    def _call(self, e: A.Call, module: str, env: Env) -> V:
        f = self.eval(e.func, module, env)
        if isinstance(f, AutoV):  # auto with settings: read where it is used (draws = auto(...))
            return AutoCallV(e.span, tuple((a.name, a.span, self.eval(a.value, module, env))
                                           for a in e.args))
        if isinstance(f, (ErrorV, AnyV)):
            for a in e.args:
                self.eval(a.value, module, env)
            return f
        if not isinstance(f, FuncV):
            return self.s.error("PAT301", f"{describe(f)} cannot be called", e.func.span,
                                "only primitives, templates (declarations with parameters) and "
                                "builtins take arguments")
        if f.builtin:
            return builtins.call(self, f, e, module, env)
        args = [(a.name, a.span, self.eval(a.value, module, env)) for a in e.args]
        if f.prim is not None:
            return coerce.call_primitive(self.s, f.prim, args, e, module)
        return self.instantiate(f, args, e)

    def instantiate(self, f: FuncV, args: list, call: A.Call | None) -> V:
        """Expand a user template (a declaration with parameters) with concrete arguments."""
        assert f.key is not None
        decl = self.s.decl(f.key)
        span = call.span if call else f.span
        names = [p.name for p in decl.params or ()]
        bound = coerce.bind(self.s, f.name, names, args)
        if bound is None:
            return ErrorV(span)
        env: Env = {}
        for p in decl.params or ():
            if p.name in bound:
                env[p.name] = bound[p.name][1]
            elif p.default is not None:
                env[p.name] = self.eval(p.default, f.key[0], {})
            else:
                return self.s.error("PAT303", f"'{f.name}' needs a value for '{p.name}'", span,
                                    f"call it as {f.name}({p.name}=...)")
        if not self.s.enter(f.key, decl.name_span or decl.span):
            return ErrorV(span)
        try:
            body = self.body(decl, f.key[0], env)
        finally:
            self.s.leave()
        if isinstance(body, ObsV) and decl.kind == "observable":
            text = coerce.call_text(f.name, names, {k: v for k, (_, v) in bound.items()})
            return ObsV(span, "leaf", body.shape, expr=body.to_expr(), text=text, doc=decl.doc)
        return body

    def body(self, decl: A.Decl, module: str, env: Env) -> V:
        if isinstance(decl.body, A.Block):
            return self.s.error("PAT505", f"a parameterized {decl.kind} must be defined with '='",
                                decl.span)
        return self.eval(decl.body, module, env)

    # -- arithmetic ----------------------------------------------------------------------------
    def _neg(self, e: A.Neg, module, env) -> V:
        x = self.eval(e.operand, module, env)
        return arith("neg", e.span, x, None, self.s)

    def _binop(self, e: A.BinOp, module, env) -> V:
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[e.op]
        return arith(op, e.span, self.eval(e.left, module, env), self.eval(e.right, module, env), self.s)

    def _index(self, e: A.Index, module, env) -> V:
        obj = self.eval(e.obj, module, env)
        idx = self.eval(e.index, module, env)
        if isinstance(obj, (ErrorV, AnyV)) or isinstance(idx, (ErrorV, AnyV)):
            return obj if isinstance(obj, (ErrorV, AnyV)) else idx
        obs = coerce.as_observable(self, obj)
        i = coerce.as_int(self.s, idx, "a head index", registry.Range(ge=0))
        if obs is None or i is None:
            return ErrorV(e.span)
        if obs.shape != "per_head":
            return self.s.error("PAT301", f"'{obs.text or 'this observable'}' is a scalar; only "
                                          "per-head observables can be indexed", e.span)
        return ObsV(e.span, "index", "scalar", (obs,), index=i)


def arith(op: str, span: Span, a: V, b: V | None, s: State) -> V:
    """Arithmetic on constants, observables and expressions in the weights."""
    operands = [a] if b is None else [a, b]
    for x in operands:
        if isinstance(x, (ErrorV, AnyV)):
            return x
    if all(isinstance(x, ConstV) and x.type in ("int", "float") for x in operands):
        return _fold(op, span, operands, s)
    if any(isinstance(x, ObsV) for x in operands) and \
            all(isinstance(x, ObsV) or _is_num(x) for x in operands):
        obs = tuple(x if isinstance(x, ObsV) else ObsV(x.span, "const", value=float(x.value))  # type: ignore[attr-defined]
                    for x in operands)
        shape = "per_head" if any(o.shape == "per_head" for o in obs) else "scalar"
        return ObsV(span, op, shape, obs)
    if all(isinstance(x, (LinV, TrustV, CurvedV)) or _is_num(x) for x in operands):
        from patternlang.check.convexity import weight_arith
        return weight_arith(op, span, operands)
    bad = next(x for x in operands if not _is_num(x))
    return s.error("PAT301", f"cannot do arithmetic with {describe(bad)}", bad.span,
                   "arithmetic works on numbers, observables, and weight(...) in constraints")


def _is_num(x: V) -> bool:
    return isinstance(x, ConstV) and x.type in ("int", "float")


MAX_INT = 2**63 - 1  # the largest integer a setting may hold (numbers past it are PAT321)


def number(span: Span, value: int | float, type_: str, s: State, text: str | None = None) -> V:
    """A numeric constant, or PAT321 where it is not finite (``1e999``, ``1e308 * 1e308``) or an
    integer past :data:`MAX_INT` (a 5,000-digit literal): reported where it is written, instead of
    reaching the plan as ``null``."""
    shown = text if text is not None and len(text) <= 24 else \
        (f"{text[:12]}...({len(text)} digits)" if text else None)
    if type_ == "int" and isinstance(value, int) and abs(value) <= MAX_INT:
        return ConstV(span, value, type_)
    if type_ == "int":
        return s.error("PAT321", f"integer {shown or 'value'} is too large (limit {MAX_INT})", span,
                       "use a smaller number")
    if value != value or value in (float("inf"), float("-inf")):
        what = f"number {shown}" if shown else "this value"
        return s.error("PAT321", f"{what} is not finite (it overflows a 64-bit float)", span,
                       "use a number below 1.8e308 in magnitude")
    return ConstV(span, value, type_)


def _fold(op: str, span: Span, xs: list, s: State) -> V:
    vals = [x.value for x in xs]
    is_int = all(x.type == "int" for x in xs)
    if op == "neg":
        return ConstV(span, -vals[0], xs[0].type)
    if op == "div":
        if vals[1] == 0:
            return s.error("PAT302", "division by zero", xs[1].span)
        try:
            return number(span, vals[0] / vals[1], "float", s)
        except OverflowError:  # int / int past the float range
            return number(span, float("inf"), "float", s)
    result = {"add": vals[0] + vals[1], "sub": vals[0] - vals[1], "mul": vals[0] * vals[1]}[op]
    return number(span, result, "int" if is_int else "float", s)



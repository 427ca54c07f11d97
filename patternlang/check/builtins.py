"""The language's builtin functions (not primitives): ``mean``/``sum`` of per-head observables,
``weight``/``kl``/``l2``/``fixed`` in constraints, ``checkpoint``/``factory`` model and data sources,
optimizers (names from :class:`~patternlang.plan.ir.OptimizerSpec`), and checkpoint selection
(``train.step(n)``, ``train.final``, ``... where cond limit n``)."""

from __future__ import annotations

import re
import typing

from patternlang.check import coerce
from patternlang.check.scope import Env, Evaluates, did_you_mean
from patternlang.check.values import (AnyV, CkptV, ConstV, ErrorV, FactoryV, FixedV, FuncV, LinV,
                                      FiniteDiffV, CoupledV, ModelV, ObsV, OptimizerV, RefV, TrustV, V)
from patternlang.plan.ir import CheckpointRef, ObservableSpec, OptimizerSpec, Selection
from patternlang.registry import Range
from patternlang.syntax import ast as A


OPTIMIZERS = typing.get_args(OptimizerSpec.model_fields["name"].annotation)
OPTIMIZER_ARGS = {"lr": ("float", Range(gt=0)), "weight_decay": ("float", Range(ge=0)),
                  "betas": ("floats", Range(ge=0, lt=1)), "grad_clip": ("float", Range(gt=0))}

BUILTINS: dict[str, str] = {
    "mean": "mean(x): the mean over heads of a per-head observable (a scalar)",
    "sum": "sum(x): the sum over heads of a per-head observable (a scalar)",
    "weight": "weight(c): the new mixture weight h'_c of component c (in constraints)",
    "kl": "kl(m): KL(h' || h) from the weights of mixture m (trust region: kl(m) <= c)",
    "l2": "l2(m): ||h' - h||_2 from the weights of mixture m (trust region: l2(m) <= c)",
    "fixed": "fixed(c, ...): keep these components' weights as they are",
    "checkpoint": 'checkpoint("w.safetensors", arch=...): weights from a file',
    "factory": 'factory("pkg.mod:fn", k=v): a model or data component from Python code',
    "finite_difference": "finite_difference(c, ..., delta=0.05): check chi against paired re-sampling "
                         "at (1 -/+ delta)h +/- delta e_c (no names: every component); `check =` of a "
                         "susceptibility",
    "coupled": "coupled(c, ..., delta=0.05, chains=N, draws=N): estimate chi by paired central "
               "differences at (1 -/+ delta)h +/- delta e_c with common random numbers (no names: "
               "every component the patternings can move); `estimator =` of a susceptibility",
    **{o: f"{o}(lr=..., weight_decay=..., betas=[..], grad_clip=...): the {o} optimizer"
       for o in OPTIMIZERS},
}
_FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def call(ev: Evaluates, f: FuncV, e: A.Call, module: str, env: Env) -> V:
    s = ev.s
    pos = [a for a in e.args if a.name is None]
    kw = {a.name: a for a in e.args if a.name is not None}
    if f.name == "step" and f.bound is not None:
        return _step(ev, f.bound, e, module, env)
    if f.name in ("mean", "sum"):
        if len(e.args) != 1 or kw:
            return s.error("PAT304", f"{f.name}() takes one observable", e.span)
        x = coerce.as_observable(ev, ev.eval(pos[0].value, module, env), f"the argument of {f.name}")
        return ObsV(e.span, f.name, "scalar", (x,)) if x else ErrorV(e.span)
    if f.name in ("weight", "kl", "l2"):
        if len(e.args) != 1 or kw:
            return s.error("PAT304", f"{f.name}() takes one name", e.span)
        v = ev.eval(pos[0].value, module, env)
        if f.name == "weight":
            c = coerce.as_component(s, v, "the argument of weight()")
            return LinV(e.span, {c: 1.0}) if c else ErrorV(e.span)
        m = coerce.as_ref(s, v, ("mixture",), f"the argument of {f.name}()")
        return TrustV(e.span, f.name, m.name) if m else ErrorV(e.span)
    if f.name == "fixed":
        names = [coerce.as_component(s, ev.eval(a.value, module, env), "fixed()") for a in e.args]
        if not names or kw:
            return s.error("PAT304", "fixed() takes one or more component names", e.span)
        return FixedV(e.span, tuple(n for n in names if n)) if None not in names else ErrorV(e.span)
    if f.name == "checkpoint":
        return _checkpoint(ev, e, module, env)
    if f.name == "factory":
        return _factory(ev, e, module, env)
    if f.name == "finite_difference":
        return _finite_difference(ev, e, module, env)
    if f.name == "coupled":
        return _coupled(ev, e, module, env)
    return _optimizer(ev, f.name, e, module, env)


def _checkpoint(ev: Evaluates, e: A.Call, module: str, env: Env) -> V:
    s = ev.s
    args = [(a.name, a.span, ev.eval(a.value, module, env)) for a in e.args]
    bound = coerce.bind(s, "checkpoint", ["path", "arch"], args)
    if bound is None:
        return ErrorV(e.span)
    if "path" not in bound:
        return s.error("PAT303", "checkpoint() needs a path", e.span, 'checkpoint("model.safetensors")')
    sp, pv = bound["path"]
    path = coerce.as_scalar(s, pv, "str", "the checkpoint path")
    path = coerce.resolve_path(s, module, path, sp) if path is not None else None
    arch = coerce.as_model(ev, bound["arch"][1], "arch") if "arch" in bound else ModelV(e.span)
    if path is None or arch is None:
        return ErrorV(e.span)
    return ModelV(e.span, call=arch.call, factory=arch.factory, factory_args=arch.factory_args,
                  checkpoint=path, task=arch.task)


def _factory(ev: Evaluates, e: A.Call, module: str, env: Env) -> V:
    s = ev.s
    pos = [a for a in e.args if a.name is None]
    if len(pos) != 1 or e.args[0].name is not None:
        return s.error("PAT304", 'factory() takes the function first: factory("pkg.mod:fn", k=v)', e.span)
    target = coerce.as_scalar(s, ev.eval(pos[0].value, module, env), "str", "the factory")
    if target is not None and not _FACTORY.match(target):
        s.error("PAT301", f"'{target}' is not of the form package.module:function", pos[0].span)
        target = None
    kwargs = {}
    for a in e.args[1:]:
        if a.name is None:
            return s.error("PAT304", "factory arguments after the first must be named", a.span)
        kwargs[a.name] = coerce.as_type(s, ev.eval(a.value, module, env), "any", f"'{a.name}'")
    if target is None or None in kwargs.values():
        return ErrorV(e.span)
    return FactoryV(e.span, target, kwargs)


def _finite_difference(ev: Evaluates, e: A.Call, module: str, env: Env) -> V:
    s = ev.s
    names = [coerce.as_component(s, ev.eval(a.value, module, env), "finite_difference()")
             for a in e.args if a.name is None]
    # ``delta`` is the shift of the mixture (the coupled estimator's name); ``eps`` its earlier
    # name, still accepted (ε is the SGLD step everywhere else)
    bad = [a for a in e.args if a.name not in (None, "delta", "eps")]
    if bad:
        return s.error("PAT203", f"finite_difference() has no parameter '{bad[0].name}'", bad[0].span,
                       "use finite_difference(c, ..., delta=0.05)")
    shifts = [a for a in e.args if a.name in ("delta", "eps")]
    if len(shifts) > 1:
        return s.error("PAT203", "finite_difference() is given its shift twice", shifts[1].span,
                       "give delta once (eps is its earlier name)")
    delta = 0.05 if not shifts else coerce.as_float(
        s, ev.eval(shifts[0].value, module, env), f"'{shifts[0].name}' of finite_difference",
        Range(gt=0, lt=0.5))
    if None in names or delta is None:
        return ErrorV(e.span)
    return FiniteDiffV(e.span, float(delta), tuple(names))


def _coupled(ev: Evaluates, e: A.Call, module: str, env: Env) -> V:
    s = ev.s
    names = [coerce.as_component(s, ev.eval(a.value, module, env), "coupled()")
             for a in e.args if a.name is None]
    bad = [a for a in e.args if a.name not in (None, "delta", "chains", "draws")]
    if bad:
        return s.error("PAT203", f"coupled() has no parameter '{bad[0].name}'", bad[0].span,
                       "use coupled(c, ..., delta=0.05, chains=8, draws=100)")
    kw = {a.name: a for a in e.args if a.name is not None}
    delta = 0.05 if "delta" not in kw else coerce.as_float(
        s, ev.eval(kw["delta"].value, module, env), "'delta' of coupled", Range(gt=0, lt=0.5))
    counts = {k: 0 if k not in kw else coerce.as_int(
        s, ev.eval(kw[k].value, module, env), f"'{k}' of coupled", Range(ge=2 if k == "chains" else 4))
        for k in ("chains", "draws")}
    if None in names or delta is None or None in counts.values():
        return ErrorV(e.span)
    return CoupledV(e.span, float(delta), tuple(names), int(counts["chains"]), int(counts["draws"]))


def _optimizer(ev: Evaluates, name: str, e: A.Call, module: str, env: Env) -> V:
    s = ev.s
    args = [(a.name, a.span, ev.eval(a.value, module, env)) for a in e.args]
    bound = coerce.bind(s, name, list(OPTIMIZER_ARGS), args)
    if bound is None:
        return ErrorV(e.span)
    out = {}
    for k, (_, v) in bound.items():
        type_, rng = OPTIMIZER_ARGS[k]
        out[k] = coerce.as_type(s, v, type_, f"'{k}' of {name}", rng)
    if None in out.values():
        return ErrorV(e.span)
    if "betas" in out and len(out["betas"]) != 2:
        return s.error("PAT301", "betas must be two numbers, e.g. [0.9, 0.999]", bound["betas"][0])
    return OptimizerV(e.span, name, out)


# ---------------------------------------------------------------------------------------------
# Checkpoints and selections


def train_attr(ev: Evaluates, train: RefV, e: A.Attr) -> V:
    if e.name == "final":
        return CkptV(e.span, CheckpointRef(train=f"train.{train.name}", step=None), train.name, train.key)
    if e.name == "step":
        return FuncV(e.span, "step", builtin=True, bound=train)
    return ev.s.error("PAT201", f"a training run has no '{e.name}'", e.span,
                      did_you_mean(e.name, ["final", "step"]) or "use .step(n) or .final")


def _step(ev: Evaluates, train: RefV, e: A.Call, module: str, env: Env) -> V:
    if len(e.args) != 1 or e.args[0].name is not None:
        return ev.s.error("PAT304", f"{train.name}.step() takes one step number", e.span)
    n = coerce.as_int(ev.s, ev.eval(e.args[0].value, module, env), "a checkpoint step", Range(ge=0))
    if n is None:
        return ErrorV(e.span)
    return CkptV(e.span, CheckpointRef(train=f"train.{train.name}", step=n), train.name, train.key)


def where(ev: Evaluates, e: A.Where, module: str, env: Env) -> V:
    s = ev.s
    base = ev.eval(e.base, module, env)
    if isinstance(base, (ErrorV, AnyV)):
        return base
    if not isinstance(base, CkptV):
        return s.error("PAT301", "'where' selects checkpoints: write run.final where ...", e.base.span)
    cond = e.condition
    if len(cond.ops) != 1:
        return s.error("PAT301", "a selection compares one observable with one number", cond.span)
    lhs, rhs = (ev.eval(x, module, env) for x in cond.operands)
    op = cond.ops[0]
    if isinstance(lhs, ConstV) and not isinstance(rhs, ConstV):
        lhs, rhs, op = rhs, lhs, {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "=="}[op]
    obs = coerce.as_observable(ev, lhs, "the left side of the selection")
    threshold = coerce.as_float(s, rhs, "the selection threshold")
    limit = coerce.as_int(s, ev.eval(e.limit, module, env), "limit", Range(ge=1)) if e.limit else None
    if op == "==":
        return s.error("PAT301", "select with <, <=, > or >=, not ==", cond.span)
    if obs is None or threshold is None or (e.limit is not None and limit is None):
        return ErrorV(e.span)
    if obs.shape != "scalar":
        return s.error("PAT306", f"'{obs.text}' has one value per head; select on a scalar",
                       obs.span, f"use mean({obs.text}) or {obs.text}[h]")
    spec = ObservableSpec(name=obs.name or obs.text or A.show(cond.operands[0]), expr=obs.to_expr(),
                          doc=obs.doc)
    sel = Selection(observable=spec, op=op, threshold=threshold, limit=limit)  # type: ignore[arg-type]
    ref = CheckpointRef(train=base.ref.train, step=base.ref.step, select=sel)
    return CkptV(e.span, ref, base.train_name, base.key)


def susceptibility_attr(ev: Evaluates, sus: RefV, e: A.Attr) -> V:
    """``chi.ih``: observable ``ih`` as measured by susceptibility ``chi`` (used in targets)."""
    entity = ev.s.resolve(sus.key)
    if isinstance(entity, ErrorV) or entity is None:
        return ErrorV(e.span)
    item = entity.find(e.name)
    if item is None:
        return ev.s.error("PAT207", f"susceptibility '{sus.name}' does not observe '{e.name}'", e.span,
                          did_you_mean(e.name, entity.names()) or
                          f"it observes: {', '.join(entity.names())}")
    return ObsV(e.span, "ref", item.shape, name=item.spec.name, text=f"{sus.name}.{item.spec.name}",
                source=f"susceptibility.{sus.name}")

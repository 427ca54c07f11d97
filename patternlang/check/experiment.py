"""Checking the experiment's steps: train, susceptibility, measure, verify, output.

(Patterning, with its targets and constraints, lives in :mod:`patternlang.check.patterning`.)"""

from __future__ import annotations

import typing
from typing import Any

from patternlang import registry
from patternlang.check import coerce
from patternlang.check.arms import read_arms
from patternlang.check.blocks import BlockReader
from patternlang.check.entities import (MeasureE, MixtureE, ObservedItem, OutputE, PatterningE,
                                        SusceptibilityE, TrainE, VerifyE)
from patternlang.check.evaluator import Evaluator
from patternlang.check.values import CkptV, CoupledV, ErrorV, FiniteDiffV, ObsV, OptimizerV, RefV, V
from patternlang.errors import Span
from patternlang.plan.ir import (CheckpointRef, ComponentSpec, CoupledSpec, FiniteDiffSpec, ModelSpec,
                                 ObservableSpec, ObsExpr,
                                 OnsetSpec, OptimizerSpec, ReportStep, SourceLoc)
from patternlang.registry import Range
from patternlang.syntax import ast as A

SCHEDULES = typing.get_args(OptimizerSpec.model_fields["schedule"].annotation)
FORMATS = typing.get_args(typing.get_args(ReportStep.model_fields["formats"].annotation)[0])


def loc(span: Span) -> SourceLoc:
    return SourceLoc(file=span.file, line=span.line, col=span.col)


MAX_SEEDS = 10_000  # seed counts above this are PAT320 (each seed is a training run)


def seeds(r: BlockReader, default: int | None) -> list[int] | None:
    v = r.value("seeds")
    if v is None:
        return list(range(default)) if default else None
    if isinstance(v, coerce.ListV):
        out = coerce.as_type(r.s, v, "ints", "seeds", Range(ge=0))
        if out is not None and len(set(out)) != len(out):
            r.s.error("PAT502", "a seed is listed twice", v.span)
            return None
        return out
    n = coerce.as_int(r.s, v, "seeds (a count)", Range(ge=1))
    if n is not None and n > MAX_SEEDS:  # checked before the list is made (1e9 seeds = 24 GB)
        r.s.error("PAT320", f"{n} seeds is above the limit of {MAX_SEEDS}", v.span,
                  "each seed is a whole training run; use a few (seeds = 8) or list them")
        return None
    return list(range(n)) if n is not None else None


def checkpoint(ev: Evaluator, v: V | None, what: str) -> tuple[CheckpointRef, TrainE] | None:
    """A checkpoint reference whose training run saves that step."""
    if v is None or isinstance(v, ErrorV):
        return None
    if not isinstance(v, CkptV):
        if isinstance(v, RefV) and v.kind == "train":
            ev.s.error("PAT301", f"{what} must be a checkpoint: {v.name}.final or {v.name}.step(n)", v.span)
        else:
            coerce.wrong(ev.s, v, "a checkpoint (run.step(n) or run.final)", what)
        return None
    train = ev.s.resolve(v.key)
    if not isinstance(train, TrainE):
        return None
    step = v.ref.step
    if step is not None and not train.saves(step):
        saved = ", ".join(str(c) for c in sorted({*train.checkpoints, train.steps}))
        ev.s.error("PAT308", f"training run '{train.name}' does not save step {step}", v.span,
                   f"it saves: {saved}; add {step} to its checkpoints")
        return None
    return v.ref, train


def observables(ev: Evaluator, v: V | None, what: str) -> list[tuple[ObsV, ObservableSpec]] | None:
    if v is None:
        return []
    out, names, ok = [], set(), True
    for item in coerce.as_list(v):
        obs = coerce.as_observable(ev, item, f"each entry of {what}")
        if obs is None:
            ok = False
            continue
        name = obs.name or obs.label()
        if name in names:
            ev.s.error("PAT502", f"'{name}' is listed twice", item.span)
            ok = False
        names.add(name)
        out.append((obs, ObservableSpec(name=name, expr=obs.to_expr(), doc=obs.doc)))
    return out if ok else None


def probes_of(ev: Evaluator, specs: list[ObservableSpec], have: list[ComponentSpec]) -> list:
    """The components ``specs`` measure (``loss(heldout)``) that ``have`` lacks: probes, or data
    outside the mixture; they are built for the observables and never trained or sampled on."""
    names = {c.name for c in have}
    return [c for c in extra_components(ev, specs, have) if c.name not in names]


def extra_components(ev: Evaluator, specs: list[ObservableSpec], have: list[ComponentSpec]) -> list:
    """``have`` and the components named by observables (``loss(c)``) that it does not contain."""
    names = {c.name for c in have}
    out = list(have)

    def walk(e: ObsExpr) -> None:
        if e.op == "prim" and e.name:
            prim = registry.get("observable", e.name)
            for p in prim.params if prim else ():
                value = e.args.get(p.name)
                if p.type == "component" and isinstance(value, str) and value not in names:
                    key = ev.s.components_used.get(value)
                    comp = ev.s.resolve(key) if key else None
                    if isinstance(comp, ComponentSpec):
                        names.add(value)
                        out.append(comp)
        for o in e.operands:
            walk(o)

    for s in specs:
        walk(s.expr)
    return out


def _mixture_of(ev: Evaluator, v: V | None, what: str) -> tuple[MixtureE, str | None] | None:
    if v is None or isinstance(v, ErrorV):
        return None
    ref = coerce.as_ref(ev.s, v, ("mixture", "data", "patterning"), what)
    if ref is None:
        return None
    target = ev.s.resolve(ref.key)
    if ref.kind == "mixture":
        return (target, None) if isinstance(target, MixtureE) else None
    if ref.kind == "data":
        if not isinstance(target, ComponentSpec):
            return None
        from patternlang.plan.ir import MixtureSpec
        return MixtureE(MixtureSpec(name=target.name, weights={target.name: 1.0}), [target]), None
    if not isinstance(target, PatterningE):
        return None
    return MixtureE(target.mixture, target.components), target.name


def context_fits(ev: Evaluator, model: ModelSpec, components: list, span: Span) -> bool:
    """PAT310 when a data component's sequences are longer than the model's context (both known
    from their calls): the model could not take a single batch."""
    context = model.call.args.get("context") if model.call is not None else None
    if not isinstance(context, int):
        return True
    for c in components:
        length = c.call.args.get("length") if c.call is not None else None
        if isinstance(length, int) and length > context:
            ev.s.error("PAT310", f"data '{c.name}' has sequences of length {length}, longer than "
                       f"the context {context} of model '{model.name}'", span,
                       f"set the model's context to at least {length}, or the data's length to "
                       f"at most {context}")
            return False
    return True


def check_train(ev: Evaluator, key, decl: A.Decl) -> Any:
    r = BlockReader(ev, decl, key[0])
    mv = r.require("model")
    model = coerce.as_model(ev, mv, "model") if mv is not None else None
    mix = _mixture_of(ev, r.require("data"), "data")
    steps = r.int("steps", None, Range(ge=1), required=True)
    batch = r.int("batch", 32, Range(ge=1))
    opt = r.value("optimizer")
    if opt is not None and not isinstance(opt, (OptimizerV, ErrorV)):
        coerce.wrong(ev.s, opt, "an optimizer such as adamw(lr=1e-3)", "optimizer")
    schedule = r.choices("schedule", SCHEDULES, ["constant"], many=False)
    warmup = r.int("warmup", 0, Range(ge=0))
    ckv = r.value("checkpoints")
    cks = coerce.as_type(ev.s, ckv, "ints", "checkpoints", Range(ge=1)) if ckv is not None else []
    if cks and steps and max(cks) > steps:
        ev.s.error("PAT302", f"checkpoint {max(cks)} is after the last step ({steps})", r.span("checkpoints"))
    if cks and len(set(cks)) != len(cks):
        ev.s.error("PAT502", "a checkpoint step is listed twice", r.span("checkpoints"))
    sds = seeds(r, 1)
    track = observables(ev, r.value("track"), "track")
    every = r.int("every", max(1, (steps or 50) // 50) if track else 0, Range(ge=1))
    init = checkpoint(ev, r.value("init"), "init") if r.has("init") else None
    parts = [model, mix, steps, batch, schedule, warmup, cks, sds, track, every]
    if any(p is None for p in parts) or isinstance(opt, ErrorV) or (r.has("init") and init is None):
        return ErrorV(decl.span)
    o = opt.args if isinstance(opt, OptimizerV) else {}
    optimizer = OptimizerSpec(name=opt.name if isinstance(opt, OptimizerV) else "adamw",  # type: ignore[arg-type]
                              schedule=schedule[0], warmup=warmup, **o)  # type: ignore[arg-type]
    raw = r.raw("model")
    mname = raw.id if isinstance(raw, A.Name) else f"{decl.name}.model"
    mspec = ModelSpec(name=mname, call=model.call, factory=model.factory,
                      factory_args=model.factory_args, checkpoint=model.checkpoint,
                      loc=loc(model.span) if model.span is not None else None)
    if not context_fits(ev, mspec, mix[0].components, r.span("data")):
        return ErrorV(decl.span)
    return TrainE(decl.name or "", loc(decl.span), mspec, mix[0].components, mix[0].spec, steps, batch,
                  optimizer, sorted(cks), sds, mixture_from=mix[1], init=init[0] if init else None,
                  track=[s for _, s in track], track_every=every if track else 0,
                  probes=probes_of(ev, [s for _, s in track], mix[0].components))


def check_susceptibility(ev: Evaluator, key, decl: A.Decl) -> Any:
    r = BlockReader(ev, decl, key[0])
    at = checkpoint(ev, r.require("at"), "at")
    sv = r.require("sampler")
    sref = coerce.as_ref(ev.s, sv, ("sampler",), "sampler") if sv is not None else None
    sampler = ev.s.resolve(sref.key) if sref else None
    parted = r.has("parts")
    obs = observables(ev, r.value("observe") if parted else r.require("observe"), "observe")
    if obs == [] and r.has("observe"):
        ev.s.error("PAT303", "observe needs at least one observable", r.span("observe"))
        obs = None
    mix = _mixture_of(ev, r.value("components"), "components") if r.has("components") else None
    probe = r.int("probe", 64, Range(ge=1))
    pool_raw = r.raw("per_sample") if isinstance(r.raw("per_sample"), A.ListExpr) else None
    per_sample = r.bool("per_sample", False) if pool_raw is None else False
    standardize = r.bool("standardize", True)
    check = _fd_check(ev, r)
    estimator = _estimator(ev, r)
    if at is None or obs is None or isinstance(sampler, ErrorV) or sampler is None or \
            (r.has("components") and mix is None) or None in (probe, per_sample, standardize) or \
            isinstance(check, ErrorV) or isinstance(estimator, ErrorV):
        return ErrorV(decl.span)
    ref, train = at
    mixture, comps = (mix[0].spec, mix[0].components) if mix else (train.mixture, train.components)
    for key, fn, named in (("check", "finite_difference", check), ("estimator", "coupled", estimator)):
        unknown = [c for c in (named.components if named is not None else []) if c not in mixture.weights]
        if unknown:
            ev.s.error("PAT305", f"{fn}() names {unknown[0]!r}, which is not a component of the "
                       "mixture chi is taken against", r.span(key), f"use one of {sorted(mixture.weights)}")
            return ErrorV(decl.span)
    pools = _pools(ev, pool_raw, mixture) if pool_raw is not None else []  # type: ignore[arg-type]
    if pools is None:
        return ErrorV(decl.span)
    specs = [s for _, s in obs]
    items = [ObservedItem(s, o.shape, o.text or s.name) for o, s in obs]
    parts, columns, definition, pca = {}, "components", "covariance", "finest"
    if parted and estimator is not None:
        ev.s.error("PAT303", "estimator = coupled(...) is not available with parts (the rows are "
                   "the parts' restricted samplings)", r.span("estimator"), "remove it")
        return ErrorV(decl.span)
    if parted:
        got = _parts(ev, r, train.model, items, per_sample, check)
        pick = r.choices("pca", ("finest", "components", "samples", "tokens"), ["finest"], many=False)
        if got is None or pick is None:
            return ErrorV(decl.span)
        parts, columns, definition, items = got
        pca = pick[0]
        per_sample = per_sample or columns == "per_sample"
    elif r.has("columns") or r.has("definition") or r.has("pca"):
        key = next(k for k in ("columns", "definition", "pca") if r.has(k))
        ev.s.error("PAT303", f"'{key}' applies to component susceptibilities only", r.span(key),
                   'add parts = ["l*h*"] (one row per head), or remove it')
        return ErrorV(decl.span)
    return SusceptibilityE(decl.name or "", loc(decl.span), ref, train.model, sampler, items,
                           extra_components(ev, specs, comps), mixture, probe, per_sample, standardize,
                           check, pools, estimator, parts, columns, definition, pca)


def _parts(ev: Evaluator, r: BlockReader, model: ModelSpec, items: list, per_sample: bool, check):
    """``parts = [...]`` (with ``columns``, ``definition``) of a susceptibility block: (part ->
    selectors, columns, definition, the observed item ``dL`` with one coordinate per part)."""
    from patternlang.engine.component_chi import expand_parts
    from patternlang.errors import PatError

    raw = r.raw("parts")
    if items:
        ev.s.error("PAT303", "a susceptibility with parts observes the parts' loss changes (dL); "
                   "it takes no observe", r.span("observe"),
                   "measure other observables in a separate susceptibility block")
        return None
    if check is not None:
        ev.s.error("PAT303", "check = finite_difference(...) is not available with parts",
                   r.span("check"), "remove it")
        return None
    words = []
    for it in raw.items if isinstance(raw, A.ListExpr) else (raw,):
        word = it.id if isinstance(it, A.Name) else it.value if isinstance(it, A.Str) else None
        if not word:
            ev.s.error("PAT301", f"parts lists {A.show(it)}: write heads (\"l1h*\"), embed, "
                       "unembed or parameter globs", it.span)
            return None
        words.append(word)
    if not words:
        ev.s.error("PAT303", "parts = [] names no part", r.span("parts"), 'e.g. parts = ["l*h*"]')
        return None
    call = model.call.args if model.call is not None else model.factory_args
    layers, heads = call.get("layers"), call.get("heads")
    try:
        parts = expand_parts(words, layers, heads)
    except PatError as e:
        ev.s.error("PAT301", str(getattr(e, "cause", e)), r.span("parts"),
                   "name the heads one by one, or declare the model with layers= and heads=")
        return None
    columns = r.choices("columns", ("components", "per_sample", "per_token"), ["components"], many=False)
    definition = r.choices("definition", ("covariance", "devinterp"), ["covariance"], many=False)
    if columns is None or definition is None:
        return None
    if per_sample and columns[0] == "per_token":
        ev.s.error("PAT303", "columns = per_token and per_sample together", r.span("columns"),
                   "pick one kind of column")
        return None
    from patternlang.engine.component_chi import pc_count

    expr = ObsExpr(op="prim", name="loss_increase", args={})
    items = [ObservedItem(ObservableSpec(name="dL", expr=expr, doc="loss change under the posterior "
                                         "restricted to each part"), "per_head", "dL")]
    if pc_count(len(parts)):
        items.append(ObservedItem(ObservableSpec(name="pc", expr=expr, doc="the parts' loss changes "
                                                 "along each principal component"), "per_head", "pc"))
    return {k: list(v) for k, v in parts.items()}, columns[0], definition[0], items


def _pools(ev: Evaluator, raw: A.ListExpr, mixture) -> list[str] | None:
    """``per_sample = [pool, ...]``: components of the mixture whose every example gets a column."""
    out = []
    for it in raw.items:
        name = it.id if isinstance(it, A.Name) else None
        if name not in mixture.weights:
            ev.s.error("PAT305", f"per_sample lists {A.show(it)}, which is not a component of the "
                       f"mixture '{mixture.name}'", it.span,
                       f"name example pools among {', '.join(mixture.weights)}")
            return None
        if name in out:
            ev.s.error("PAT502", f"'{name}' is listed twice", it.span)
            return None
        out.append(name)
    if not out:
        ev.s.error("PAT303", "per_sample = [] names no pool", raw.span,
                   "write per_sample = true, or list pool components: per_sample = [code_pool]")
        return None
    return out


def _fd_check(ev: Evaluator, r: BlockReader) -> FiniteDiffSpec | ErrorV | None:
    """``check = finite_difference(...)`` of a susceptibility block (None when absent)."""
    if not r.has("check"):
        return None
    v = r.value("check")
    if isinstance(v, FiniteDiffV):
        return FiniteDiffSpec(eps=v.eps, components=list(v.components))
    if not isinstance(v, ErrorV):
        ev.s.error("PAT301", "check must be a finite-difference check", r.span("check"),
                   "write check = finite_difference(eps=0.05) or finite_difference(c, eps=0.05)")
    return ErrorV(r.span("check"))


def _estimator(ev: Evaluator, r: BlockReader) -> CoupledSpec | ErrorV | None:
    """``estimator = coupled(...)`` of a susceptibility block (None: the covariance estimator)."""
    if not r.has("estimator"):
        return None
    v = r.value("estimator")
    if isinstance(v, CoupledV):
        return CoupledSpec(delta=v.delta, components=list(v.components), chains=v.chains,
                           draws=v.draws)
    if not isinstance(v, ErrorV):
        ev.s.error("PAT301", "estimator must be coupled(...) (leave it out for the covariance "
                   "estimator)", r.span("estimator"),
                   "write estimator = coupled(delta=0.05) or coupled(c, ..., delta=0.05)")
    return ErrorV(r.span("estimator"))


def check_measure(ev: Evaluator, key, decl: A.Decl) -> Any:
    r = BlockReader(ev, decl, key[0])
    at = checkpoint(ev, r.require("at"), "at")
    obs = observables(ev, r.require("observe"), "observe")
    probe = r.int("probe", 64, Range(ge=1))
    seed = r.int("seed", 0, Range(ge=0))
    if at is None or obs is None or probe is None or seed is None:
        return ErrorV(decl.span)
    specs = [s for _, s in obs]
    return MeasureE(decl.name or "", loc(decl.span), at[0], specs,
                    extra_components(ev, specs, at[1].components), probe, seed)


def check_output(ev: Evaluator, key, decl: A.Decl) -> Any:
    r = BlockReader(ev, decl, key[0])
    formats = r.choices("formats", FORMATS, ["md", "json"])
    return OutputE(loc(decl.span), formats) if formats is not None else ErrorV(decl.span)


def _enough_proxies(ev: Evaluator, r: BlockReader, arms, pat: PatterningE) -> bool:
    """PAT302 when ``regression(K)`` has fewer proxy runs than the weights have free directions
    (components − 1 − equality constraints): its fit, an intercept and one slope per direction, is
    then far from determined. (K = free directions is underdetermined too; the run says so, with
    the other degenerate designs, in the arm's record.)"""
    equalities = sum(1 for c in pat.constraints if c.kind == "linear" and c.op == "==") + \
        sum(len(c.components) for c in pat.constraints if c.kind == "fixed")
    free = max(0, len(pat.mixture.weights) - 1 - equalities)
    k = arms.regression.runs
    if k >= free:
        return True
    ev.s.error("PAT302", f"regression({k}) fits {free + 1} unknowns (an intercept and {free} free "
               f"direction(s) of the weights of '{pat.mixture.name}') from {k} proxy runs: it "
               "would say nothing", r.span("arms"), f"use regression({free + 1}) or more; about "
               f"{2 * (free + 1)} gives the leave-one-out fit something to check")
    return False


def _transfer_model(ev: Evaluator, r: BlockReader, decl: A.Decl, start: str | None,
                    train: Any) -> ModelSpec | bool:
    """``model = bigger``: every arm trains this model (from scratch: a checkpoint of the model
    chi was measured on does not fit another one); ``False`` after an error."""
    v = coerce.as_model(ev, r.value("model"), "model")
    if v is None:
        return False
    if start != "scratch":
        ev.s.error("PAT310", "a verify with its own model trains it from scratch", r.span("model"),
                   "remove start = ..., or the model setting")
        return False
    raw = r.raw("model")
    spec = ModelSpec(name=raw.id if isinstance(raw, A.Name) else f"{decl.name}.model", call=v.call,
                     factory=v.factory, factory_args=v.factory_args, checkpoint=v.checkpoint,
                     loc=loc(v.span) if v.span is not None else None)
    if isinstance(train, TrainE) and not context_fits(ev, spec, train.components, r.span("model")):
        return False
    return spec


def check_verify(ev: Evaluator, module: str, decl: A.Decl, pat: PatterningE) -> Any:
    r = BlockReader(ev, decl, module)
    sus = [ev.s.resolve((module, n)) for n in pat.sources]
    if not sus or not all(isinstance(x, SusceptibilityE) for x in sus):
        return ErrorV(decl.span)
    train_name = sus[0].at.train.split(".", 1)[1]
    train = ev.s.resolve((module, train_name))
    arms = read_arms(r)
    if arms is not None and arms.regression is not None and not _enough_proxies(ev, r, arms, pat):
        arms = None
    sds = seeds(r, 3)
    steps = r.int("steps", getattr(train, "steps", None), Range(ge=1))
    every = r.int("every", 25, Range(ge=1))
    start, start_at = "scratch", None
    raw = r.raw("start")
    if raw is not None and not (isinstance(raw, A.Name) and raw.id == "scratch"):
        got = checkpoint(ev, r.value("start"), "start (scratch or a checkpoint)")
        start, start_at = ("checkpoint", got[0]) if got else (None, None)
    obs = observables(ev, r.value("observe"), "observe") if r.has("observe") else \
        [(None, i.spec) for s in sus for i in s.observed]
    onset = [_onset(ev, module, st) for st in r.statements]  # type: ignore[arg-type]
    if None in (arms, sds, steps, every, start, obs) or None in onset or not isinstance(train, TrainE):
        return ErrorV(decl.span)
    model = _transfer_model(ev, r, decl, start, train) if r.has("model") else None
    if model is False:
        return ErrorV(decl.span)
    measured = _unique([s for _, s in obs])
    probes = probes_of(ev, measured + [o.observable for o in onset], train.components)
    return VerifyE(decl.name or "", loc(decl.span), train.name, arms.named, sds, steps, start, start_at,
                   every, measured, onset, arms.random, arms.regression, probes, model)  # type: ignore[arg-type]


def _unique(specs: list[ObservableSpec]) -> list[ObservableSpec]:
    seen: dict[str, ObservableSpec] = {}
    for s in specs:
        seen.setdefault(s.name, s)
    return list(seen.values())


def _onset(ev: Evaluator, module: str, st: A.Onset) -> OnsetSpec | None:
    cond = st.condition
    if len(cond.ops) != 1 or cond.ops[0] == "==":
        ev.s.error("PAT301", "onset compares one observable with a threshold: onset mean(ih) >= 0.3",
                   cond.span)
        return None
    lhs, rhs = (ev.eval(x, module, {}) for x in cond.operands)
    op, lhs_node = cond.ops[0], cond.operands[0]
    if isinstance(lhs, coerce.ConstV):
        lhs, rhs, op = rhs, lhs, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}[op]
        lhs_node = cond.operands[1]
    obs = coerce.as_observable(ev, lhs, "the onset observable")
    threshold = coerce.as_float(ev.s, rhs, "the onset threshold")
    if obs is None or threshold is None:
        return None
    if obs.shape != "scalar":
        ev.s.error("PAT306", f"'{obs.text}' has one value per head; an onset needs a scalar", obs.span,
                   f"use mean({obs.text}) or {obs.text}[h]")
        return None
    name = obs.name or obs.text or A.show(lhs_node)
    return OnsetSpec(observable=ObservableSpec(name=name, expr=obs.to_expr(), doc=obs.doc), op=op,  # type: ignore[arg-type]
                     threshold=threshold)

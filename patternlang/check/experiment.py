"""Checking the experiment's steps: what the step blocks share (checkpoints, observables, seeds,
mixtures, the components observables measure), and the train, measure and output blocks.

The susceptibility block is checked in :mod:`patternlang.check.susceptibility`, the verify block
in :mod:`patternlang.check.verify`; patterning, with its targets and constraints, in
:mod:`patternlang.check.patterning`."""

from __future__ import annotations

import typing
from typing import Any

from patternlang import registry
from patternlang.check import coerce
from patternlang.check.blocks import BlockReader
from patternlang.check.entities import MeasureE, MixtureE, OutputE, PatterningE, TrainE
from patternlang.check.evaluator import Evaluator
from patternlang.check.values import CkptV, ErrorV, ObsV, OptimizerV, RefV, V
from patternlang.errors import Span
from patternlang.plan.ir import (CheckpointRef, ComponentSpec, ModelSpec, ObservableSpec, ObsExpr, OptimizerSpec,
                                 ReportStep, SourceLoc)
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


def mixture_of(ev: Evaluator, v: V | None, what: str) -> tuple[MixtureE, str | None] | None:
    """The mixture ``v`` names (a mixture, one data component at weight 1, or a patterning's new
    mixture) and, for a patterning, its name."""
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
    mix = mixture_of(ev, r.require("data"), "data")
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

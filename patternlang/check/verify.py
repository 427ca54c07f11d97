"""Checking a verify block: its arms (enough proxy runs for ``regression(K)``), seeds, start,
what it observes, onsets, and a transfer model (``model = ...``)."""

from __future__ import annotations

from typing import Any

from patternlang.check import coerce
from patternlang.check.arms import read_arms
from patternlang.check.blocks import BlockReader
from patternlang.check.entities import PatterningE, SusceptibilityE, TrainE, VerifyE
from patternlang.check.evaluator import Evaluator
from patternlang.check.experiment import checkpoint, context_fits, loc, observables, probes_of, seeds
from patternlang.check.values import ErrorV
from patternlang.plan.ir import ModelSpec, ObservableSpec, OnsetSpec
from patternlang.registry import Range
from patternlang.syntax import ast as A


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

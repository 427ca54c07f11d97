"""Checking a susceptibility block: where and how it samples, what it observes, per-sample pools,
the finite-difference check, the coupled estimator, and component susceptibilities (``parts``)."""

from __future__ import annotations

from typing import Any

from patternlang.check import coerce
from patternlang.check.blocks import BlockReader
from patternlang.check.entities import ObservedItem, SusceptibilityE
from patternlang.check.evaluator import Evaluator
from patternlang.check.experiment import checkpoint, extra_components, loc, mixture_of, observables
from patternlang.check.values import CoupledV, ErrorV, FiniteDiffV
from patternlang.plan.ir import CoupledSpec, FiniteDiffSpec, ModelSpec, ObservableSpec, ObsExpr
from patternlang.registry import Range
from patternlang.syntax import ast as A


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
    mix = mixture_of(ev, r.value("components"), "components") if r.has("components") else None
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
        return FiniteDiffSpec(delta=v.delta, components=list(v.components))
    if not isinstance(v, ErrorV):
        ev.s.error("PAT301", "check must be a finite-difference check", r.span("check"),
                   "write check = finite_difference(delta=0.05) or finite_difference(c, delta=0.05)")
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

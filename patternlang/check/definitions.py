"""Checking definitions: models, data components, mixtures, samplers, observables.

Each ``check_*`` takes the evaluator, the declaration's key and the declaration, and returns its
checked value (an IR value object, or :class:`ObsV` / :class:`ModelV` for things that are inlined
where they are used), or :class:`ErrorV` after reporting."""

from __future__ import annotations

from typing import Any

from patternlang.check import coerce
from patternlang.check.blocks import BlockReader
from patternlang.check.evaluator import Evaluator
from patternlang.check.draws import read_draws
from patternlang.check.values import AnyV, AutoCallV, AutoV, DictV, ErrorV, RefV, V
from patternlang.check.entities import MixtureE, SamplerDecl
from patternlang.engine.sampler import updates as update_rules
from patternlang.plan.ir import ComponentSpec, MixtureSpec, SourceLoc
from patternlang.registry import Range
from patternlang.syntax import ast as A


def _value_body(ev: Evaluator, decl: A.Decl, module: str) -> V:
    if isinstance(decl.body, A.Block):
        return ev.s.error("PAT505", f"a {decl.kind} is defined with '=': {decl.kind} {decl.name} = ...",
                          decl.body.span)
    return ev.eval(decl.body, module, {})


def check_template(ev: Evaluator, decl: A.Decl, module: str) -> None:
    """Check a declaration with parameters on its own: parameters without defaults are unknown."""
    env: dict[str, V] = {}
    seen: set[str] = set()
    for p in decl.params or ():
        if p.name in seen:
            ev.s.error("PAT502", f"parameter '{p.name}' is declared twice", p.span)
        seen.add(p.name)
        env[p.name] = ev.eval(p.default, module, {}) if p.default is not None else AnyV(p.span)
    if decl.kind not in ("model", "data", "probe", "observable"):
        ev.s.error("PAT505", f"a {decl.kind} cannot take parameters; only models, data, probes and "
                   "observables do",
                   decl.span)
        return
    body = ev.body(decl, module, env)
    _expect(ev, decl, body)


def _expect(ev: Evaluator, decl: A.Decl, v: V) -> Any:
    what = f"the body of {decl.kind} '{decl.name}'"
    if decl.kind == "observable":
        return coerce.as_observable(ev, v, what)
    if decl.kind == "model":
        return coerce.as_model(ev, v, what)
    return coerce.as_data(ev, v, what)


def check_model(ev: Evaluator, key, decl: A.Decl) -> V:
    v = coerce.as_model(ev, _value_body(ev, decl, key[0]), f"model '{decl.name}'")
    return v if v is not None else ErrorV(decl.span)


def check_observable(ev: Evaluator, key, decl: A.Decl) -> V:
    v = coerce.as_observable(ev, _value_body(ev, decl, key[0]), f"observable '{decl.name}'")
    return v if v is not None else ErrorV(decl.span)


def check_data(ev: Evaluator, key, decl: A.Decl) -> Any:
    """A ``data`` component, or a ``probe``: a component that is only measured (``loss(heldout)``
    in targets, ``track``, ``observe``, verification), never weighted. Both check to a
    :class:`ComponentSpec`; a probe is kept out of mixtures here, so it is never a column of chi,
    an unknown of the solve or a row of the weights tables."""
    v = coerce.as_data(ev, _value_body(ev, decl, key[0]), f"{decl.kind} '{decl.name}'")
    if v is None:
        return ErrorV(decl.span)
    at = decl.span
    return ComponentSpec(name=decl.name or "", call=v.call, factory=v.factory, factory_args=v.factory_args,
                         loc=SourceLoc(file=at.file, line=at.line, col=at.col))


def check_mixture(ev: Evaluator, key, decl: A.Decl) -> Any:
    s = ev.s
    body = _value_body(ev, decl, key[0])
    if isinstance(body, ErrorV):
        return body
    if not isinstance(body, DictV):
        return s.error("PAT301", "a mixture is a dict of component weights: {a: 0.5, b: 0.5}", body.span)
    weights: dict[str, float] = {}
    components: list[ComponentSpec] = []
    ok = True
    for name, kspan, wv in body.entries:
        named = ev.eval(A.Name(kspan, name), key[0], {})
        if isinstance(named, RefV) and named.kind == "probe":
            s.error("PAT305", f"'{name}' is a probe: it is only measured, never part of a mixture",
                    kspan, f"declare it with 'data {name} = ...' to give it a weight, or leave it "
                    f"out of the mixture and measure it with loss({name})")
            ok = False
            continue
        ref = coerce.as_ref(s, named, ("data",), f"'{name}' in mixture '{decl.name}'")
        w = coerce.as_float(s, wv, f"the weight of '{name}'", Range(ge=0, le=1))
        if ref is None or w is None:
            ok = False
            continue
        comp = s.resolve(ref.key)
        if not isinstance(comp, ComponentSpec):
            ok = False
            continue
        weights[name] = w
        components.append(comp)
    if not ok:
        return ErrorV(decl.span)
    total = sum(weights.values())
    if total <= 0:
        return s.error("PAT302", f"the weights of mixture '{decl.name}' sum to 0", body.span,
                       "give at least one component a positive weight")
    spec = MixtureSpec(name=decl.name or "", weights={k: w / total for k, w in weights.items()})
    return MixtureE(spec, components)


MAX_DRAWS = 10**8  # chains x draws above this is PAT320 (the traces are kept in memory)
_SAMPLER_RANGES = {"chains": Range(ge=1), "burnin": Range(ge=0),
                   "thin": Range(ge=1), "batch": Range(ge=1), "seed": Range(ge=0)}


def check_sampler(ev: Evaluator, key, decl: A.Decl) -> Any:
    if not isinstance(decl.body, A.Block):
        return ev.s.error("PAT505", "a sampler is a block: sampler s { step = 1e-3  gamma = 300 ... }",
                          decl.body.span)
    r = BlockReader(ev, decl, key[0])
    defaults = SamplerDecl.model_fields
    raw_step = r.require("step")
    if isinstance(raw_step, AutoCallV):
        return ev.s.error("PAT304", "step = auto takes no settings", raw_step.span,
                          "write step = auto (a scan of the step size at the center) or a number")
    out: dict[str, Any] = {
        "step": "auto" if isinstance(raw_step, AutoV) else r.float("step", None, Range(gt=0), required=True),
        "gamma": r.float("gamma", None, Range(gt=0), required=True),
    }
    for k, rng in _SAMPLER_RANGES.items():
        out[k] = r.int(k, defaults[k].default, rng)
    draws = read_draws(ev.s, r.value("draws"), defaults["draws"].default)
    out["draws"], out["draws_auto"] = draws if draws is not None else (None, None)
    nb = r.value("nbeta")
    out["nbeta"] = None if nb is None or isinstance(nb, AutoV) else \
        coerce.as_float(ev.s, nb, "nbeta", Range(gt=0))
    pre = r.choices("preconditioner", update_rules.names(), ["none"], many=False)
    out["preconditioner"] = pre[0] if pre else None
    restrict = r.value("restrict")
    out["restrict"] = [] if restrict is None else coerce.as_type(ev.s, restrict, "strs", "restrict")
    if out["draws"] and out["chains"] and out["draws"] * out["chains"] > MAX_DRAWS:
        ev.s.error("PAT320", f"{out['chains']} chains x {out['draws']} draws is above the limit of "
                   f"{MAX_DRAWS:.0e} kept draws", (r.value("draws") or r.value("chains")).span,
                   "the traces alone would not fit in memory; a few hundred draws per chain is usual")
        return ErrorV(decl.span)
    if any(v is None for k, v in out.items() if k not in ("nbeta", "draws_auto")) or (nb is not None and
                                                                   not isinstance(nb, AutoV) and
                                                                   out["nbeta"] is None):
        return ErrorV(decl.span)
    return SamplerDecl(**out)

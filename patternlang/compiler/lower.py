"""Checked program -> :class:`~patternlang.plan.ir.Plan`.

Step ids are ``<kind>.<name>`` (``train.pretrain``, ``sample.chi``, ``susceptibility.chi``,
``solve.accelerate``, ``verify.accelerate``, ``observe.snapshot``) and ``report``. A susceptibility
declaration lowers to two steps, ``sample`` (SGLD with observation) and ``susceptibility`` (chi from
the sample's moments). Steps are ordered so every input comes before its user (a stable topological
order: source order wherever the dependencies allow it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from patternlang.check.entities import (Checked, MeasureE, OutputE, PatterningE, SamplerDecl,
                                        SusceptibilityE, TrainE, VerifyE)
from patternlang.compiler.checked_targets import attach_checked_targets
from patternlang.compiler.cost import patterning_compute, proxy_compute, proxy_steps
from patternlang.compiler.fingerprints import fingerprints
from patternlang.engine.sampler.temperature import default_nbeta
from patternlang.plan.ir import (CheckpointRef, ObserveStep, Plan, ReportStep, SampleStep, SamplerSpec, SolveStep,
                                 Step, SusceptibilityStep, TrainStep, VerifyStep)


def _ckpt_input(ref: CheckpointRef | None) -> list[str]:
    return [ref.train] if ref is not None else []


def _lower_train(t: TrainE) -> list[Step]:
    inputs = _ckpt_input(t.init) + ([f"solve.{t.mixture_from}"] if t.mixture_from else [])
    return [TrainStep(id=f"train.{t.name}", inputs=inputs, loc=t.loc, model=t.model,
                      components=t.components, mixture=t.mixture,
                      mixture_from=f"solve.{t.mixture_from}" if t.mixture_from else None,
                      steps=t.steps, batch=t.batch, optimizer=t.optimizer, checkpoints=t.checkpoints,
                      seeds=t.seeds, init_from=t.init, track=t.track, track_every=t.track_every,
                      probes=t.probes)]


def resolve_sampler(decl: SamplerDecl) -> SamplerSpec:
    """The plan's sampler settings: ``nbeta = auto`` becomes B / log B of the declared batch (the
    batch every SGLD step draws), so the plan, the sampler and every later step use one nβ."""
    nbeta = decl.nbeta if decl.nbeta is not None else default_nbeta(decl.batch)
    return SamplerSpec(**{**decl.model_dump(), "nbeta": nbeta})


def _lower_susceptibility(s: SusceptibilityE) -> list[Step]:
    if s.parts:
        return _lower_parts(s)
    sample = SampleStep(id=f"sample.{s.name}", inputs=[s.at.train], loc=s.loc, at=s.at, model=s.model,
                        sampler=resolve_sampler(s.sampler), components=s.components, mixture=s.mixture,
                        observables=[i.spec for i in s.observed], probe=s.probe, per_sample=s.per_sample,
                        pools=list(s.pools))
    chi = SusceptibilityStep(id=f"susceptibility.{s.name}", inputs=[sample.id], loc=s.loc,
                             sample=sample.id, standardize=s.standardize, check=s.check,
                             estimator=s.estimator)
    return [sample, chi]


def _lower_parts(s: SusceptibilityE) -> list[Step]:
    """Component susceptibilities: the full sampling ``sample.NAME`` and one restricted sampling per
    part ``sample.NAME.PART`` (the sampler's settings, ``restrict`` = the part's selectors, the same
    seeds and probe sets), all observing φ = L (the mixture's probe loss) against the columns; the
    susceptibility step joins them into rows dL[part]."""
    import re

    from patternlang.engine.component_chi import phi_spec

    base = resolve_sampler(s.sampler)
    full_id = f"sample.{s.name}"
    common: dict[str, Any] = dict(inputs=[s.at.train], loc=s.loc, at=s.at, model=s.model, components=s.components,
                  mixture=s.mixture, observables=[phi_spec(s.mixture.weights)], probe=s.probe,
                  per_sample=s.per_sample, pools=list(s.pools), per_token=s.columns == "per_token")
    steps: list[Step] = [SampleStep(id=full_id, sampler=base, **common)]
    parts = {}
    for part, selectors in s.parts.items():
        sid = f"{full_id}.{re.sub(r'[^A-Za-z0-9_]+', '_', part)}"
        # the same sampler seed, so the same probe sets as the full sampling (runtime/services/sampling.probe_seed)
        steps.append(SampleStep(id=sid, sampler=base.model_copy(update={"restrict": list(selectors)}),
                                **common))
        parts[part] = sid
    chi = SusceptibilityStep(id=f"susceptibility.{s.name}", inputs=[st.id for st in steps], loc=s.loc,
                             sample=full_id, standardize=s.standardize, parts=parts,
                             definition=s.definition, pca=s.pca)
    return [*steps, chi]


def _lower_patterning(p: PatterningE) -> list[Step]:
    ids = [f"susceptibility.{n}" for n in p.sources]
    return [SolveStep(id=f"solve.{p.name}", inputs=ids, loc=p.loc, susceptibilities=ids, mixture=p.mixture,
                      targets=p.targets, constraints=p.constraints, regularization=p.regularization,
                      rounds=p.rounds, round_steps=p.round_steps, samples=list(p.samples),
                      require_resolved=p.require_resolved)]


def _lower_verify(v: VerifyE) -> list[Step]:
    inputs = [f"solve.{v.name}", f"train.{v.train}"]
    if v.start_at is not None and v.start_at.train not in inputs:
        inputs.append(v.start_at.train)
    return [VerifyStep(id=f"verify.{v.name}", inputs=inputs, loc=v.loc, solve=f"solve.{v.name}",
                       train=f"train.{v.train}", arms=cast(Any, v.arms), seeds=v.seeds, steps=v.steps,
                       start=cast(Any, v.start),
                       start_at=v.start_at, every=v.every, observables=v.observables, onset=v.onset,
                       random=v.random, regression=v.regression, probes=v.probes,
                       model=v.model)]


def _lower_measure(m: MeasureE) -> list[Step]:
    return [ObserveStep(id=f"observe.{m.name}", inputs=[m.at.train], loc=m.loc, at=m.at,
                        observables=m.observables, components=m.components, probe=m.probe, seed=m.seed)]


_LOWER: dict[type, Callable[[Any], list[Step]]] = {TrainE: _lower_train, SusceptibilityE: _lower_susceptibility, PatterningE: _lower_patterning,
          VerifyE: _lower_verify, MeasureE: _lower_measure}


def _toposort(steps: list[Step]) -> list[Step]:
    by_id = {s.id: s for s in steps}
    done: set[str] = set()
    out: list[Step] = []

    def visit(s: Step) -> None:
        if s.id in done:
            return
        done.add(s.id)
        for i in s.inputs:
            if i in by_id:
                visit(by_id[i])
        out.append(s)

    for s in steps:
        visit(s)
    return out


def lower(checked: Checked) -> Plan:
    """The execution plan of a checked program (always ends with one ``report`` step)."""
    steps: list[Step] = []
    formats = ["md", "json"]
    loc = None
    for st in checked.steps:
        if isinstance(st, OutputE):
            formats, loc = st.formats, st.loc
        elif st is not None:
            steps.extend(_LOWER[type(st)](st))
    steps = attach_checked_targets(_toposort(steps))
    steps.append(ReportStep(id="report", inputs=[s.id for s in steps], loc=loc, formats=cast(Any, formats)))
    plan = _resolve_regression_arms(Plan(spec=checked.spec, factories=checked.factories, steps=steps))
    return plan.model_copy(update={"fingerprints": fingerprints(plan)})


def _resolve_regression_arms(plan: Plan) -> Plan:
    """Each ``regression(K)`` arm with its proxy horizon resolved (equal compute unless given) and
    the compute of the patterning and of the proxies, so the runtime reads both from the plan."""
    steps = []
    for step in plan.steps:
        if isinstance(step, VerifyStep) and step.regression is not None:
            train = plan.step(step.train)
            assert isinstance(train, TrainStep)
            horizon = proxy_steps(step, plan)
            compute = {"patterning": patterning_compute(plan, step.solve),
                       "regression": proxy_compute(step.regression.runs, horizon, train.batch,
                                                   len(train.components))}
            arm = step.regression.model_copy(update={"steps": horizon, "compute": compute})
            step = step.model_copy(update={"regression": arm})
        steps.append(step)
    return plan.model_copy(update={"steps": steps})

"""Explain a plan before it runs: one line per step, its inputs, its settings and a cost estimate
(:mod:`patternlang.compiler.cost`: sequence passes, memory, and seconds at the rates measured on
this machine)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patternlang.compiler.cost import (Cost, Rates, format_bytes, format_count, format_duration, model_of, seconds,
                                       step_cost)
from patternlang.plan.ir import (ObserveStep, Plan, SampleStep, SolveStep, Step, SusceptibilityStep, TrainStep,
                                 VerifyStep)


def _what(step: Step) -> str:
    if isinstance(step, TrainStep):
        mix = f"solved weights of {step.mixture_from}" if step.mixture_from else step.mixture.name
        return f"train {step.model.name} on {mix}: {step.steps} steps x {len(step.seeds)} seed(s)"
    if isinstance(step, SampleStep):
        s = step.sampler
        at = f"{step.at.train}@{'final' if step.at.step is None else step.at.step}"
        draws = (f"up to {s.draws} draws (auto: z >= {s.draws_auto.z:g}, chunks of {s.draws_auto.chunk})"
                 if s.draws_auto is not None else f"{s.draws} draws")
        return (f"SGLD at {at}: {s.chains} chains x {draws}, gamma={s.gamma:g}, "
                f"observe {len(step.observables)} observable(s) x {len(step.components)} component(s)")
    if isinstance(step, SolveStep):
        return f"solve for new weights of {step.mixture.name}: {len(step.targets)} target(s), " \
               f"{len(step.constraints)} constraint(s)"
    if isinstance(step, VerifyStep):
        extra = ([f"random({step.random})"] if step.random else []) + (
            [f"regression({step.regression.runs})"] if step.regression else [])
        model = f" with model {step.model.name}" if step.model is not None else ""
        return (f"retrain {', '.join([*step.arms, *extra])} x {len(step.seeds)} seed(s) for "
                f"{step.steps} steps{model}")
    if isinstance(step, ObserveStep):
        return f"evaluate {len(step.observables)} observable(s) at {step.at.train}"
    return step.kind


def _weights(w: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k}: {v:.4g}" for k, v in w.items()) + "}"


def _target(t: Any) -> str:
    amount = f" by {t.amount:g}" if t.amount is not None else f" to {t.value:g}" if t.value is not None else ""
    return f"target: {t.label}{amount} (weight {t.weight:g})"


def details(step: Step) -> list[str]:
    """The settings a step runs with, resolved (defaults filled in, ``auto`` shown as such), its
    targets and constraints."""
    if isinstance(step, TrainStep):
        o = step.optimizer
        out = [f"mixture {_weights(step.mixture.weights)}; batch {step.batch}; "
               f"{o.name}(lr={o.lr:g}, weight_decay={o.weight_decay:g}), schedule {o.schedule}"
               + (f", warmup {o.warmup}" if o.warmup else "")
               + f"; checkpoints {sorted({*step.checkpoints, step.steps})}"]
        if step.track:
            out.append(f"track {', '.join(t.name for t in step.track)} every {step.track_every} steps")
        return out
    if isinstance(step, SampleStep):
        s = step.sampler
        nbeta = "auto (B / log B)" if s.nbeta is None else f"{s.nbeta:g}"
        eps = s.step if isinstance(s.step, str) else f"{s.step:g}"  # "auto": chosen by a scan
        return [f"step {eps}, gamma {s.gamma:g}, nbeta {nbeta}, burnin {s.burnin}, thin {s.thin}, "
                f"batch {s.batch}, seed {s.seed}" + (f", restrict {s.restrict}" if s.restrict else "")
                + f"; probe {step.probe} per component",
                f"observe {', '.join(o.name for o in step.observables)}"]
    if isinstance(step, SusceptibilityStep) and (step.check or step.estimator) is not None:
        out = []
        if step.estimator is not None:
            e = step.estimator
            out.append(f"coupled estimator: delta {e.delta:g}, "
                       f"{', '.join(e.components) or 'every movable component'}"
                       + (f", {e.chains} chains" if e.chains else "")
                       + (f", {e.draws} draws" if e.draws else ""))
        if step.check is not None:
            comps = ", ".join(step.check.components) or "every component"
            out.append(f"finite-difference check: delta {step.check.delta:g}, {comps}")
        return out
    return _solve_lines(step)


def _solve_lines(step: Step) -> list[str]:
    if isinstance(step, SolveStep):
        out = [f"from h = {_weights(step.mixture.weights)}; regularization {step.regularization:g}"
               + (f"; {step.rounds} rounds of {step.round_steps} steps" if step.rounds > 1 else "")]
        out += [_target(t) for t in step.targets]
        out += [f"constraint: {c.label or c.kind}" for c in step.constraints]
        return out
    if isinstance(step, ObserveStep):
        return [f"observe {', '.join(o.name for o in step.observables)}; probe {step.probe} per "
                f"component, seed {step.seed}"]
    if isinstance(step, VerifyStep):
        return [f"start {step.start}; evaluate every {step.every} steps"] + [
            f"onset: {o.observable.name} {o.op} {o.threshold:g}" for o in step.onset]
    return []


def explain(plan: Plan, rates: Mapping[str, Rates] | None = None) -> str:
    """The plan as a tree with costs, e.g. for ``patc compile``; with ``rates`` (per model name,
    measured on this machine) each cost also in seconds, and the total."""
    hashes = plan.hashes()
    lines = [f"plan for {plan.spec} (version {plan.version}, {len(plan.steps)} steps)"]
    total, total_s, timed = Cost(), 0.0, True
    for i, step in enumerate(plan.steps):
        last = i == len(plan.steps) - 1
        branch, cont = ("└─", "   ") if last else ("├─", "│  ")
        inputs = f" <- {', '.join(step.inputs)}" if step.inputs and step.kind != "report" else ""
        lines.append(f"{branch} {step.id} [{hashes[step.id]}]{inputs}")
        lines.append(f"{cont}   {_what(step)}")
        lines += [f"{cont}   {d}" for d in details(step)]
        c = step_cost(step, plan)
        if c.fwd_bwd or c.fwd:
            model = model_of(step, plan)
            t = seconds(c, (rates or {}).get(model.name) if model else None)
            timed = timed and t is not None
            total_s += t or 0.0
            when = f"; ≈ {format_duration(t)}" if t is not None else ""
            fd = " (paired runs)" if isinstance(step, SusceptibilityStep) else ""
            lines.append(f"{cont}   cost{fd}: {format_count(c.fwd_bwd)} fwd+bwd, {format_count(c.fwd)} fwd sequences; "
                         f"memory {format_bytes(c.memory)}{when}")
        total = Cost(total.fwd_bwd + c.fwd_bwd, total.fwd + c.fwd)
    lines.append(f"total: {format_count(total.fwd_bwd)} fwd+bwd and {format_count(total.fwd)} fwd sequence passes")
    if rates and timed:
        rate_text = ", ".join(f"{name} {r.fwd_bwd:.0f} fwd+bwd / {r.fwd:.0f} fwd seq/s"
                              for name, r in rates.items())
        lines.append(f"estimated compute time on this machine: ≈ {format_duration(total_s)} at the measured "
                     f"rates ({rate_text}; one process; start-up, data building and the report "
                     "add seconds)")
    if plan.factories:
        from patternlang.compiler.fingerprints import factory_files

        lines.append("Python code this plan imports and runs (review before `patc run`):")
        lines += [f"  - {ref}: {path or 'not found as a source file'}"
                  for ref, path in factory_files(plan).items()]
    return "\n".join(lines)

"""Explain a plan before it runs: one line per step, its inputs, and a cost estimate.

Costs are counted in *sequence passes*: a forward+backward pass of one training sequence (training,
SGLD steps) or a forward pass of one sequence (observing probe sets). Memory is the parameter state
the step keeps (weights, gradients, optimizer moments; one copy per SGLD chain), estimated from the
model's width arguments when they are known (``layers``, ``heads``, ``d_model``, ``vocab``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from patternlang.plan.ir import (ModelSpec, ObserveStep, Plan, SampleStep, SolveStep, TrainStep,
                                 VerifyStep)


@dataclass(frozen=True)
class Cost:
    fwd_bwd: int = 0  # sequences through forward + backward
    fwd: int = 0  # sequences through forward only
    memory: int | None = None  # bytes of parameter state


def param_count(model: ModelSpec) -> int | None:
    """Parameters of a transformer-shaped model from its call's arguments (None if unknown)."""
    if model.call is None:
        return None
    a = model.call.args
    try:
        L, H, d, V, T = (int(a[k]) for k in ("layers", "heads", "d_model", "vocab", "context"))
    except (KeyError, TypeError, ValueError):
        try:
            L, H, d, T, V = int(a["layers"]), int(a["heads"]), int(a["d_model"]), int(a["context"]), 2
        except (KeyError, TypeError, ValueError):
            return None
    dh = int(a.get("d_head") or 0) or max(1, d // H)
    per_layer = 4 * H * d * dh + 3 * H * dh + d + (8 * d * d if a.get("mlp") else 0)
    return V * d + T * d + L * per_layer + d * V + V


def _train_cost(steps: int, batch: int, seeds: int, model: ModelSpec) -> Cost:
    p = param_count(model)
    return Cost(fwd_bwd=steps * batch * seeds, memory=16 * p if p else None)  # w, grad, 2 Adam moments


def step_cost(step, plan: Plan) -> Cost:
    if isinstance(step, TrainStep):
        c = _train_cost(step.steps, step.batch, len(step.seeds), step.model)
        evals = (step.steps // step.track_every) * len(step.seeds) * 64 * len(step.components) \
            if step.track_every else 0
        return Cost(c.fwd_bwd, evals, c.memory)
    if isinstance(step, SampleStep):
        s = step.sampler
        points = _points(step, plan)
        p = param_count(step.model)
        sgld = s.chains * (s.burnin + s.draws * s.thin) * s.batch * points
        observe = s.chains * s.draws * _probe_rows(step) * points
        return Cost(sgld, observe, 12 * p * s.chains if p else None)
    if isinstance(step, VerifyStep):
        train = plan.step(step.train)
        assert isinstance(train, TrainStep)
        c = _train_cost(step.steps, train.batch, len(step.seeds) * len(step.arms), train.model)
        evals = (step.steps // step.every) * len(step.seeds) * len(step.arms) * 64 * len(train.components)
        return Cost(c.fwd_bwd, evals, c.memory)
    if isinstance(step, ObserveStep):
        return Cost(0, step.probe * len(step.components) * _points(step, plan), None)
    return Cost()


def _probe_rows(step: SampleStep) -> int:
    """Sequences observed per draw: ``probe`` per component, a whole pool for ``per_sample = [pool]``
    (its size when the spec states it, e.g. ``python_code_pool(size=...)``)."""
    rows = 0
    for c in step.components:
        size = c.call.args.get("size") if c.call is not None and c.name in step.pools else None
        rows += int(size) if isinstance(size, int) else step.probe
    return rows


def _points(step, plan: Plan) -> int:
    """Checkpoints a step localizes at: one, or one per selected seed."""
    if step.at.select is None:
        return 1
    train = plan.step(step.at.train)
    n = len(train.seeds) if isinstance(train, TrainStep) else 1
    return min(n, step.at.select.limit or n)


def _si(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:g}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, div in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def _what(step) -> str:
    if isinstance(step, TrainStep):
        mix = f"solved weights of {step.mixture_from}" if step.mixture_from else step.mixture.name
        return f"train {step.model.name} on {mix}: {step.steps} steps x {len(step.seeds)} seed(s)"
    if isinstance(step, SampleStep):
        s = step.sampler
        at = f"{step.at.train}@{'final' if step.at.step is None else step.at.step}"
        return (f"SGLD at {at}: {s.chains} chains x {s.draws} draws, gamma={s.gamma:g}, "
                f"observe {len(step.observables)} observable(s) x {len(step.components)} component(s)")
    if isinstance(step, SolveStep):
        return f"solve for new weights of {step.mixture.name}: {len(step.targets)} target(s), " \
               f"{len(step.constraints)} constraint(s)"
    if isinstance(step, VerifyStep):
        return f"retrain {', '.join(step.arms)} x {len(step.seeds)} seed(s) for {step.steps} steps"
    if isinstance(step, ObserveStep):
        return f"evaluate {len(step.observables)} observable(s) at {step.at.train}"
    return step.kind


def explain(plan: Plan) -> str:
    """The plan as a tree with costs, e.g. for ``patc compile``."""
    hashes = plan.hashes()
    lines = [f"plan for {plan.spec} (version {plan.version}, {len(plan.steps)} steps)"]
    total = Cost()
    for i, step in enumerate(plan.steps):
        last = i == len(plan.steps) - 1
        branch, cont = ("└─", "   ") if last else ("├─", "│  ")
        inputs = f" <- {', '.join(step.inputs)}" if step.inputs and step.kind != "report" else ""
        lines.append(f"{branch} {step.id} [{hashes[step.id]}]{inputs}")
        lines.append(f"{cont}   {_what(step)}")
        c = step_cost(step, plan)
        if c.fwd_bwd or c.fwd:
            lines.append(f"{cont}   cost: {_si(c.fwd_bwd)} fwd+bwd, {_si(c.fwd)} fwd sequences; "
                         f"memory {_bytes(c.memory)}")
        total = Cost(total.fwd_bwd + c.fwd_bwd, total.fwd + c.fwd)
    lines.append(f"total: {_si(total.fwd_bwd)} fwd+bwd and {_si(total.fwd)} fwd sequence passes")
    if plan.factories:
        lines.append("Python code this plan imports and runs (review before `patc run`):")
        lines += [f"  - {f}" for f in plan.factories]
    return "\n".join(lines)

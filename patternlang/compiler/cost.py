"""What a plan's steps cost, counted in *sequence passes*: a forward+backward pass of one training
sequence (training, SGLD steps) or a forward pass of one sequence (observing probe sets); a
finite-difference check or a coupled estimator counts its paired re-sampling runs. Given the rates
measured on this machine (:mod:`patternlang.runtime.rate`, sequences per second per model) the
passes become seconds. Memory is the parameter state the step keeps (weights, gradients, optimizer
moments; one copy per SGLD chain), estimated from the model's width arguments when they are known
(``layers``, ``heads``, ``d_model``, ``vocab``, ...).

Also the compute the patterning spends against the regression baseline (``verify``'s
``regression(K)`` arm, equal compute), and the units costs are written in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from patternlang.plan.ir import (ModelSpec, ObserveStep, Plan, SampleStep, SolveStep, Step, SusceptibilityStep,
                                 TrainStep, VerifyStep)


class Rates(Protocol):
    """Sequences per second through a model (:class:`patternlang.runtime.rate.Rate`)."""

    @property
    def fwd_bwd(self) -> float: ...

    @property
    def fwd(self) -> float: ...


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


def step_cost(step: Step, plan: Plan) -> Cost:
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
        observe = s.chains * s.draws * probe_rows(step) * points
        return Cost(sgld, observe, 12 * p * s.chains if p else None)
    if isinstance(step, VerifyStep):
        train = plan.step(step.train)
        assert isinstance(train, TrainStep)
        arms = len(step.arms) + step.random + (step.regression is not None)
        c = _train_cost(step.steps, train.batch, len(step.seeds) * arms, train.model)
        evals = (step.steps // step.every) * len(step.seeds) * arms * 64 * len(train.components)
        if step.regression is not None:
            px = proxy_compute(step.regression.runs, proxy_steps(step, plan), train.batch,
                               len(train.components))
            return Cost(c.fwd_bwd + px["training_fwd_bwd"], evals + px["observation_fwd"], c.memory)
        return Cost(c.fwd_bwd, evals, c.memory)
    if isinstance(step, ObserveStep):
        return Cost(0, step.probe * len(step.components) * _points(step, plan), None)
    if isinstance(step, SusceptibilityStep) and (step.check or step.estimator) is not None:
        sample = plan.step(step.sample)
        assert isinstance(sample, SampleStep)
        s, out = sample.sampler, Cost()
        for comps, chains, draws in _paired_runs(step, sample):
            runs = 2 * comps
            out = Cost(out.fwd_bwd + runs * chains * (s.burnin + draws * s.thin) * s.batch,
                       out.fwd + runs * chains * draws * sample.probe * len(sample.components))
        return out
    return Cost()


def _paired_runs(step: SusceptibilityStep, sample: SampleStep) -> list[tuple[int, int, int]]:
    """(components, chains, draws) of the paired runs a susceptibility step adds: its
    finite-difference check's, and its coupled estimator's (at most every component but one: the
    heaviest column follows from the others; the solve's posterior check adds one more pair)."""
    s, k = sample.sampler, len(sample.components)
    out = []
    if step.check is not None:
        out.append((len(step.check.components) or k, s.chains, s.draws))
    if step.estimator is not None:
        e = step.estimator
        n = len(e.components) or k
        out.append((min(n, k - 1) + 1, e.chains or s.chains, e.draws or s.draws))
    return out


def probe_rows(step: SampleStep) -> int:
    """Sequences observed per draw: ``probe`` per component, a whole pool for ``per_sample = [pool]``
    (its size when the spec states it, e.g. ``python_code_pool(size=...)``)."""
    rows = 0
    for c in step.components:
        size = c.call.args.get("size") if c.call is not None and c.name in step.pools else None
        rows += int(size) if isinstance(size, int) else step.probe
    return rows


def model_of(step: Step, plan: Plan) -> ModelSpec | None:
    """The model whose passes a step's cost counts."""
    if isinstance(step, (TrainStep, SampleStep)):
        return step.model
    if isinstance(step, VerifyStep):
        return step.model or model_of(plan.step(step.train), plan)
    if isinstance(step, ObserveStep):
        return model_of(plan.step(step.at.train), plan)
    if isinstance(step, SusceptibilityStep):
        return model_of(plan.step(step.sample), plan)
    return None


def seconds(c: Cost, rate: Rates | None) -> float | None:
    """The time of ``c`` at ``rate`` (None without a rate)."""
    if rate is None:
        return None
    return c.fwd_bwd / rate.fwd_bwd + c.fwd / rate.fwd


def _points(step: SampleStep | ObserveStep, plan: Plan) -> int:
    """Checkpoints a step localizes at: one, or one per selected seed."""
    if step.at.select is None:
        return 1
    train = plan.step(step.at.train)
    n = len(train.seeds) if isinstance(train, TrainStep) else 1
    return min(n, step.at.select.limit or n)


# -- compute of the patterning vs the regression baseline (``verify``'s ``regression(K)`` arm) ----
# Sequences through forward+backward (training, SGLD) and forward only (observing probe sets);
# ``equivalent`` counts a forward as a third of a forward+backward. The patterning spends the
# training up to the checkpoint χ is taken at plus sampling and observation of every sample step
# the solve's susceptibilities read (a finite-difference ``check`` is a diagnostic, not counted).

#: probe sequences per component of one evaluation during training (``train_one``)
EVAL_PROBE = 64

#: a forward pass counted as this share of a forward+backward pass
FORWARD_SHARE = 1.0 / 3.0


def patterning_compute(plan: Plan, solve_id: str) -> dict[str, Any]:
    """Sequences the patterning spent: checkpoint training + sampling + observation."""
    solve = plan.step(solve_id)
    assert isinstance(solve, SolveStep)
    fb = fwd = prefix = 0
    for sid in solve.susceptibilities:
        sus = plan.step(sid)
        assert isinstance(sus, SusceptibilityStep)
        sample = plan.step(sus.sample)
        assert isinstance(sample, SampleStep)
        c = step_cost(sample, plan)
        fb, fwd = fb + c.fwd_bwd, fwd + c.fwd
        train = plan.step(sample.at.train)
        if isinstance(train, TrainStep):
            # every seed of a pool: the patterning trained them all to find its centers
            prefix = max(prefix, (sample.at.step or train.steps) * train.batch * len(train.seeds))
    return {"checkpoint_fwd_bwd": prefix, "sampling_fwd_bwd": fb, "observation_fwd": fwd,
            "equivalent_fwd_bwd": prefix + fb + FORWARD_SHARE * fwd}


def proxy_compute(runs: int, steps: int, batch: int, components: int) -> dict[str, Any]:
    """Sequences ``runs`` proxy trainings of ``steps`` spend (two evaluations each: start, end)."""
    fb, fwd = runs * steps * batch, runs * 2 * EVAL_PROBE * components
    return {"runs": runs, "steps": steps, "training_fwd_bwd": fb, "observation_fwd": fwd,
            "equivalent_fwd_bwd": fb + FORWARD_SHARE * fwd}


def proxy_steps(step: VerifyStep, plan: Plan) -> int:
    """The proxy horizon: as given, or the one at which the K proxies spend what the patterning
    spent (equal compute), at least 1 and at most the verification's horizon — a proxy trained
    longer than the runs it predicts measures a later stage of training (with more budget than K
    proxies of that length spend, raise K: ``docs/validation.md``)."""
    assert step.regression is not None
    if step.regression.steps:
        return step.regression.steps
    train = plan.step(step.train)
    assert isinstance(train, TrainStep)
    budget = patterning_compute(plan, step.solve)["equivalent_fwd_bwd"] / step.regression.runs
    per_eval = FORWARD_SHARE * 2 * EVAL_PROBE * len(train.components)
    return max(1, min(step.steps, int((budget - per_eval) // train.batch)))


# -- the units costs are written in (``patc compile``, the PAT330 / PAT331 diagnostics) -----------


def format_count(n: float) -> str:
    """A count of sequences with an SI prefix: 1.5M."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:g}"


def format_bytes(n: int | None) -> str:
    """Bytes in binary units (``?`` when unknown)."""
    if n is None:
        return "?"
    for unit, div in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return f"{n} B"


def format_duration(t: float) -> str:
    """Seconds in the unit that reads best: 45 s, 12 min, 3.5 h."""
    if t < 90:
        return f"{t:.0f} s"
    if t < 5400:
        return f"{t / 60:.0f} min"
    return f"{t / 3600:.1f} h"

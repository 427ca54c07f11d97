"""Explain a plan before it runs: one line per step, its inputs, and a cost estimate.

Costs are counted in *sequence passes*: a forward+backward pass of one training sequence (training,
SGLD steps) or a forward pass of one sequence (observing probe sets); a finite-difference check
counts its two re-sampling runs per checked component. Given the rates measured on this machine
(:mod:`patternlang.runtime.rate`, sequences per second per model) the passes become seconds.
Memory is the parameter state
the step keeps (weights, gradients, optimizer moments; one copy per SGLD chain), estimated from the
model's width arguments when they are known (``layers``, ``heads``, ``d_model``, ``vocab``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
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
        observe = s.chains * s.draws * _probe_rows(step) * points
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


def _probe_rows(step: SampleStep) -> int:
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


def _duration(t: float) -> str:
    if t < 90:
        return f"{t:.0f} s"
    if t < 5400:
        return f"{t / 60:.0f} min"
    return f"{t / 3600:.1f} h"


def _points(step: SampleStep | ObserveStep, plan: Plan) -> int:
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
            return f"{n / div:,.1f} {unit}"
    return f"{n} B"


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
            out.append(f"finite-difference check: eps {step.check.eps:g}, {comps}")
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
            when = f"; ≈ {_duration(t)}" if t is not None else ""
            fd = " (paired runs)" if isinstance(step, SusceptibilityStep) else ""
            lines.append(f"{cont}   cost{fd}: {_si(c.fwd_bwd)} fwd+bwd, {_si(c.fwd)} fwd sequences; "
                         f"memory {_bytes(c.memory)}{when}")
        total = Cost(total.fwd_bwd + c.fwd_bwd, total.fwd + c.fwd)
    lines.append(f"total: {_si(total.fwd_bwd)} fwd+bwd and {_si(total.fwd)} fwd sequence passes")
    if rates and timed:
        rate_text = ", ".join(f"{name} {r.fwd_bwd:.0f} fwd+bwd / {r.fwd:.0f} fwd seq/s"
                              for name, r in rates.items())
        lines.append(f"estimated compute time on this machine: ≈ {_duration(total_s)} at the measured "
                     f"rates ({rate_text}; one process; start-up, data building and the report "
                     "add seconds)")
    if plan.factories:
        from patternlang.compiler.fingerprints import factory_files

        lines.append("Python code this plan imports and runs (review before `patc run`):")
        lines += [f"  - {ref}: {path or 'not found as a source file'}"
                  for ref, path in factory_files(plan).items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Cost warnings: a plan far beyond this machine is said before anything runs

DAY_SECONDS = 86400.0
_FLOPS: list[float] = []


def machine_flops() -> float:
    """This machine's measured float32 matrix-multiply rate (FLOP/s), from a ~0.1 s benchmark run
    once per process. An optimistic rate for the model's passes: real training reaches less."""
    if not _FLOPS:
        import time

        import numpy as np

        a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.1:
            a @ a
            n += 1
        _FLOPS.append(2 * 256**3 * n / (time.perf_counter() - t0))
    return _FLOPS[0]


def step_seconds(step: Step, plan: Plan, flops: float) -> float | None:
    """A lower bound on a step's compute time: 6·params·tokens per fwd+bwd sequence, 2·params·tokens
    per forward sequence, at ``flops``; None when the model's size is unknown (a factory)."""
    model = model_of(step, plan)
    params = None if model is None else param_count(model)
    if model is None or params is None:
        return None
    tokens = int(model.call.args.get("context", 1)) if model.call is not None else 1
    c = step_cost(step, plan)
    return (6.0 * c.fwd_bwd + 2.0 * c.fwd) * params * tokens / flops


def cost_warnings(plan: Plan, rates: Mapping[str, Rates] | None = None,
                  limit_seconds: float = DAY_SECONDS) -> list[Any]:
    """PAT330 warnings for steps whose compute time on this machine is above ``limit_seconds`` (a
    day): at the model's measured rate when ``rates`` has it (``patc compile``, :mod:`patternlang.
    runtime.rate`), else a FLOP lower bound at the measured matrix-multiply rate. Likely a typo
    (``steps = 10000000``), said before it runs."""
    from patternlang.errors import Diagnostic

    out = []
    for step in plan.steps:
        c = step_cost(step, plan)
        if not (c.fwd_bwd or c.fwd):
            continue
        model = model_of(step, plan)
        rate = (rates or {}).get(model.name) if model is not None else None
        secs = seconds(c, rate) if rate is not None else step_seconds(step, plan, machine_flops())
        if secs is None or secs <= limit_seconds:
            continue
        how = "at the measured rate of its model" if rate is not None else \
            f"at a measured {machine_flops() / 1e9:.0f} GFLOP/s"
        span = _step_span(step)
        out.append(Diagnostic(
            "PAT330", f"{step.id} would take at least {secs / DAY_SECONDS:,.0f} days on this machine "
            f"({_si(c.fwd_bwd)} fwd+bwd and {_si(c.fwd)} fwd sequence passes {how})", span,
            "check steps, draws, chains, seeds and batch; `patc compile SPEC` shows every step's "
            "cost", severity="warning"))
    return out


# ---------------------------------------------------------------------------------------------
# Memory: a plan whose tensors cannot fit in this machine is refused before anything runs

FLOAT, TOKEN = 4, 8  # bytes of a float32 activation / an int64 token id


def _dims(model: ModelSpec) -> tuple[int, int, int, int, int] | None:
    """(layers, heads, d_model, vocab, context) of a transformer-shaped model's call, or None."""
    a = model.call.args if model.call is not None else {}
    try:
        return (int(a["layers"]), int(a["heads"]), int(a["d_model"]), int(a.get("vocab", 2)),
                int(a["context"]))
    except (KeyError, TypeError, ValueError):
        return None


def activation_bytes(model: ModelSpec, sequences: int) -> int:
    """A lower bound on the memory ``sequences`` sequences take through the model at once: their
    token ids, each layer's attention pattern and residual stream, and the logits (float32)."""
    dims = _dims(model)
    if dims is None:
        return 0
    L, H, d, V, T = dims
    return sequences * T * (TOKEN + FLOAT * (L * (H * T + d) + V))


def step_memory(step: Step, plan: Plan) -> int:
    """A lower bound on the peak memory of a step: the parameter state it keeps (:func:`step_cost`:
    weights, gradients, optimizer moments; one copy per SGLD chain) plus the activations of one
    training batch, and of one probe set (observations), through one copy of the model."""
    model = model_of(step, plan)
    if model is None:
        return 0
    state = step_cost(step, plan).memory or 0
    if isinstance(step, TrainStep):
        return state + activation_bytes(model, step.batch)
    if isinstance(step, VerifyStep):
        train = plan.step(step.train)
        return state + activation_bytes(model, getattr(train, "batch", 1))
    if isinstance(step, SampleStep):
        probe = max(step.probe, _probe_rows(step) // max(1, len(step.components)))
        return state + max(activation_bytes(model, step.sampler.batch),
                           activation_bytes(model, probe))
    if isinstance(step, ObserveStep):
        return activation_bytes(model, step.probe)
    return 0


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_errors(plan: Plan, available: int | None = None) -> list[Any]:
    """PAT331 errors for steps whose estimated memory (:func:`step_memory`) is above ``available``
    (default: this machine's physical memory): ``d_model = 1000000`` or ``batch = 1e9`` is a typo
    the allocator would otherwise report half-way through the run."""
    from patternlang.errors import Diagnostic

    available = available if available is not None else machine_memory()
    if not available:
        return []
    out = []
    for step in plan.steps:
        need = step_memory(step, plan)
        if need <= available:
            continue
        span = _step_span(step)
        out.append(Diagnostic(
            "PAT331", f"{step.id} needs at least {_bytes(need)} of memory (parameters x chains, "
            f"activations x batch and probe), more than this machine's {_bytes(available)}", span,
            "lower the model's size (d_model, vocab, heads, layers, context), or chains, batch "
            "or probe; `patc compile SPEC` shows every step's memory"))
    return out


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


def _step_span(step: Step) -> Any:
    """The one-character :class:`~patternlang.errors.Span` of the declaration a plan step came
    from (None when unknown)."""
    from patternlang.errors import Span

    loc = step.loc
    return Span(loc.file, loc.line, loc.col, loc.line, loc.col + 1) if loc else None

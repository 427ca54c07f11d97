"""A plan far beyond this machine is said before anything runs: PAT330 warnings for steps that
would compute for more than a day (:func:`cost_warnings`), PAT331 errors for steps whose tensors
cannot fit in its memory (:func:`memory_errors`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patternlang.compiler.cost import (Rates, format_bytes, format_count, model_of, param_count, probe_rows, seconds,
                                       step_cost)
from patternlang.plan.ir import ModelSpec, ObserveStep, Plan, SampleStep, Step, TrainStep, VerifyStep


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
            f"({format_count(c.fwd_bwd)} fwd+bwd and {format_count(c.fwd)} fwd sequence passes {how})", span,
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
        probe = max(step.probe, probe_rows(step) // max(1, len(step.components)))
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
            "PAT331", f"{step.id} needs at least {format_bytes(need)} of memory (parameters x chains, "
            f"activations x batch and probe), more than this machine's {format_bytes(available)}", span,
            "lower the model's size (d_model, vocab, heads, layers, context), or chains, batch "
            "or probe; `patc compile SPEC` shows every step's memory"))
    return out


def _step_span(step: Step) -> Any:
    """The one-character :class:`~patternlang.errors.Span` of the declaration a plan step came
    from (None when unknown)."""
    from patternlang.errors import Span

    loc = step.loc
    return Span(loc.file, loc.line, loc.col, loc.line, loc.col + 1) if loc else None

"""How fast this machine pushes sequences through a plan's models: the rates that turn the cost
estimate of ``patc compile`` (sequence passes, :mod:`patternlang.compiler.cost`) into seconds.

For every model a plan trains, :func:`measure_rates` builds it (random init, on the CPU or the given
device) and times AdamW steps at the train step's batch size, each on a fresh batch drawn from its
mixture (sampling + forward + backward + update), and forward passes without gradients, each for
about ``budget_s`` seconds after one warm-up step. Not counted: start-up, building data
components (tokenizers are cached), checkpoints, the solve and the report, which add seconds per
run whatever its size. Sequence lengths, vocabularies and the task come from
the plan, so the rate is that of the real steps; SGLD steps cost about one training step each.
"""

from __future__ import annotations

from pathlib import Path

import time
from dataclasses import dataclass

import torch

from patternlang.plan.ir import Plan, TrainStep
from patternlang.runtime.services.build import build_model


@dataclass(frozen=True)
class Rate:
    """Sequences per second through one model on this machine."""

    fwd_bwd: float  # training steps (forward + backward + optimizer update)
    fwd: float  # forward passes without gradients (observing probe sets)


def _timed(fn, budget_s: float, blocks: int = 5) -> float:
    """Seconds per call of ``fn``: two warm-up calls (lazy imports, allocator, thread pools),
    then ``blocks`` blocks of calls sharing ``budget_s`` (at least two calls each); the fastest
    block's time per call. The minimum, as ``timeit`` reports it: a block slowed by other jobs on a
    shared machine, or by first-call work, says nothing about the model (the mean of one block
    overstated a 79 s plan as 6 minutes)."""
    fn()
    fn()
    best = float("inf")
    for _ in range(blocks):
        n, start = 0, time.perf_counter()
        while n < 2 or time.perf_counter() - start < budget_s / blocks:
            fn()
            n += 1
        best = min(best, (time.perf_counter() - start) / n)
    return best


def measure_rate(step: TrainStep, budget_s: float = 0.5, device: str = "cpu") -> Rate:
    """The rate of ``step``'s model at its batch size, each training step drawing a fresh batch
    from the step's mixture (as training does)."""
    from patternlang.data.build import build_components, mixture_of
    from patternlang.models.losses import model_loss_fn

    mixture = mixture_of(build_components(step.components), dict(step.mixture.weights))
    g = torch.Generator().manual_seed(0)
    model = build_model(step.model, device=device)
    loss_fn = model_loss_fn(mixture.task)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    fixed = {k: v.to(device) for k, v in mixture.sample(step.batch, g)[0].items()}

    def train_step() -> None:
        batch = {k: v.to(device) for k, v in mixture.sample(step.batch, g)[0].items()}
        opt.zero_grad(set_to_none=True)
        loss_fn(model, batch).mean().backward()
        opt.step()

    def forward() -> None:
        with torch.no_grad():
            loss_fn(model, fixed)

    return Rate(step.batch / _timed(train_step, budget_s), step.batch / _timed(forward, budget_s))


def measure_rates(plan: Plan, budget_s: float = 0.5, device: str = "cpu") -> dict[str, Rate]:
    """Rates per model name, one measurement per distinct model of the plan's train steps (and
    of the verify steps that train another model: ``verify { model = ... }``)."""
    from patternlang.models.factory import allow_spec_modules

    if not str(plan.spec).startswith("<"):  # the factory modules beside the spec, and only those
        allow_spec_modules(Path(plan.spec).resolve().parent, plan.factories)
    torch.manual_seed(0)
    out: dict[str, Rate] = {}
    for step in plan.steps:
        if isinstance(step, TrainStep) and step.model.name not in out:
            out[step.model.name] = measure_rate(step, budget_s=budget_s, device=device)
        elif getattr(step, "model", None) is not None and step.kind == "verify" \
                and step.model.name not in out:
            recipe = plan.step_as(step.train, TrainStep).model_copy(update={"model": step.model})
            out[step.model.name] = measure_rate(recipe, budget_s=budget_s, device=device)
    return out

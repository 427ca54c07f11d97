"""The sampling service: localized SGLD of a plan's :class:`SampleStep` at a center.

Every runtime path that samples goes through here — the ``sample`` step (one chain group at a
time, :func:`run_group`), iterative patterning's re-estimates (``rounds``) and the finite-difference
check (:func:`sample_chains` with another mixture) — so the model, the observer, the minibatches
and the engine's settings are built one way:

* :func:`sgld_config` is the one place the plan's sampler settings (the language's names: ``step``,
  ``chains``, ``draws``) become :class:`~patternlang.engine.sampler.sgld.SGLDConfig`. nβ is already
  concrete in the plan (the compiler resolves ``auto``); every later step reads it from the plan
  (:meth:`StepContext.nbeta`), never from the sampler's echo of it.
* :func:`mixture_batches` draws each chain's minibatches from the step's mixture.
* :func:`chain_groups` splits the chains into groups that run as one batched call;
  :func:`sample_workers` says how many processes run them.
* :func:`write_back` puts a finished sample step into the plan as it ran (the ε its ``step =
  auto`` scan chose, the draws of ``draws = auto``): the executor calls it once, and the steps
  that read or sample it again find concrete values in ``ctx.plan``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from patternlang.data.build import mixture_of
from patternlang.engine.sampler.temperature import localization_steps
from patternlang.plan.ir import Plan, SampleStep, SamplerSpec, Step
from patternlang.runtime.accel import (chains_per_batch, free_cuda_bytes, maybe_compile,
                                       measure_chain_bytes, with_precision)
from patternlang.runtime.context import StepContext
from patternlang.runtime.progress import Task
from patternlang.runtime.results_types import SampleResult, StepResult
from patternlang.runtime.rundir import atomic_save_npz, atomic_write_json
from patternlang.runtime.services.build import build_model, derive_seed, load_weights

if TYPE_CHECKING:
    from patternlang.engine.sampler.sgld import SGLDConfig


def sgld_config(sampler: SamplerSpec, seed: int, **engine: Any) -> SGLDConfig:
    """The engine's settings for the plan's ``sampler`` (``step`` -> ``step_size``, ``chains`` ->
    ``num_chains``, ``draws`` -> ``num_draws``); ``engine`` sets engine-only fields such as
    ``keep_observations``. ``step = auto`` must be resolved to a number first (its scan,
    :func:`with_step`, :func:`write_back`)."""
    from patternlang.engine.sampler.sgld import SGLDConfig

    s = sampler
    if isinstance(s.step, str):  # "auto": SGLDConfig's `step_size > 0` check raised this TypeError
        raise TypeError(f"sampler step {s.step!r} is not resolved to a number")
    return SGLDConfig(step_size=s.step, gamma=s.gamma, nbeta=s.nbeta, num_chains=s.chains,
                      num_draws=s.draws, burnin=s.burnin, thin=s.thin, seed=seed,
                      restrict=tuple(s.restrict), preconditioner=s.preconditioner, **engine)


def center_seed(step: SampleStep, ctx: StepContext, center: int) -> int:
    """The root of the chains' random streams at the center trained with seed ``center``."""
    return derive_seed("sgld", ctx.plan.seed, step.sampler.seed, center)


def mixture_batches(components: dict, weights: dict[str, float], batch: int, device: torch.device,
                    design: dict[str, float] | None = None):
    """``batch_fn(chain, t, g)``: a minibatch of ``batch`` sequences from the mixture ``weights``.

    With a ``design`` mixture the sequences are drawn from ``design`` instead (stratified, every
    component of positive design weight at least once when its weight is >= 1/batch) and each
    carries the loss weight ``h_k / (its component's count)`` (``batch["weight"]``), so the
    minibatch loss is Σ_k h_k·mean_k(ℓ), an unbiased estimate of L_h. Runs at different ``weights``
    with one design then draw the *same* sequences from the same generator: the minibatches of
    paired runs differ only through their loss weights (common random numbers, the coupled
    estimator's)."""
    if design is None:
        mixture = mixture_of(components, weights)

        def batch_fn(chain: int, t: int, g: torch.Generator) -> dict:
            b, _ = mixture.sample(batch, g)
            return {k: v.to(device) for k, v in b.items()}

        return batch_fn
    mixture = mixture_of(components, design)
    h = torch.tensor([float(weights.get(n, 0.0)) for n in mixture.names], dtype=torch.float64)
    h = h / h.sum()

    def weighted_fn(chain: int, t: int, g: torch.Generator) -> dict:
        b, index = mixture.sample(batch, g)
        counts = torch.bincount(index, minlength=len(h)).double()
        missing = (counts == 0) & (h > 0)
        if bool(missing.any()):
            raise ValueError(f"coupled batch of {batch} misses components "
                             f"{[n for n, m in zip(mixture.names, missing) if m]}")
        b["weight"] = (h / counts.clamp(min=1))[index].float()
        return {k: v.to(device) for k, v in b.items()}

    return weighted_fn


def chain_groups(chains: int, device: torch.device, *, world: int = 1, fixed: int | None = None,
                 per_chain_bytes: int | None = None, free_bytes: int | None = None) -> list[list[int]]:
    """Chain ids in groups that run as one batched call (and are one resumable part each).

    ``fixed`` (``RunOptions.chain_group``) fixes the group size everywhere. Otherwise on a CPU groups of 2
    leave completed chains behind for --resume at the same cost per chain; on a GPU the group is as
    many chains as fit in free memory (``per_chain_bytes`` measured by
    :func:`~patternlang.runtime.accel.measure_chain_bytes`, ``free_bytes`` default
    ``torch.cuda.mem_get_info``), and at most ``ceil(chains / world)`` so every rank gets a group.
    CPU grouping never depends on ``world``: a distributed CPU run then reproduces the single-process
    run bit for bit."""
    if fixed:
        size = fixed
    elif device.type == "cuda":
        size = -(-chains // max(1, world))
        if per_chain_bytes:
            free = free_bytes if free_bytes is not None else free_cuda_bytes(device)
            size = min(size, chains_per_batch(free, per_chain_bytes, chains))
    else:
        size = 2
    size = max(1, min(size, chains))
    ids = list(range(chains))
    return [ids[i:i + size] for i in range(0, chains, size)]


def chain_bytes(step: SampleStep, ctx: StepContext, center: Path, components: dict) -> int | None:
    """One chain's peak GPU memory at this step's batch and probe sizes (``None`` off CUDA, or when
    ``ctx.options.chain_group`` fixes the grouping)."""
    if ctx.device.type != "cuda" or ctx.options.chain_group:
        return None
    from patternlang.models.losses import model_loss_fn

    model = load_weights(build_model(step.model, ctx), center)
    g = torch.Generator().manual_seed(0)
    batch = mixture_batches(components, dict(step.mixture.weights), step.sampler.batch,
                            ctx.device)(0, 0, g)
    probe = next(iter(components.values())).sample(step.probe, g)
    probe = {k: v.to(ctx.device) for k, v in probe.items()}
    per_chain = measure_chain_bytes(model, model_loss_fn(cast(str, model.task)), batch, probe)
    del model
    torch.cuda.empty_cache()
    return per_chain


def _bar_callback(bar: Task) -> Callable[[int, int], None]:
    """Adapt a progress task to the sampler's ``progress(done, total)`` callback."""
    last = [0]

    def callback(done: int, total: int) -> None:
        bar.advance(done - last[0])
        last[0] = done

    return callback


def probe_seed(step: SampleStep, ctx: StepContext, chain: int | None = None) -> int:
    """The seed of a sample step's probe sets: from the plan's and the sampler's ``seed`` (so that
    changing ``seed`` re-draws the probes with the chains, and renaming a step changes nothing),
    and for the coupled estimator's per-chain probe sets from the chain."""
    if chain is None:
        return derive_seed("probe", ctx.plan.seed, step.sampler.seed)
    return derive_seed("probe", ctx.plan.seed, step.sampler.seed, "chain", chain)


def step_observer(step: SampleStep, ctx: StepContext, model: torch.nn.Module, components: dict,
                  weights: dict[str, float], per_sample: bool | None = None,
                  seed: int | None = None):
    """The :class:`~patternlang.observables.observer.Observer` of ``step``'s observables on
    ``weights`` (probe sets seeded by :func:`probe_seed`, or ``seed``; ``per_sample`` None: the
    step's own per-sample columns and pools)."""
    from patternlang.observables.observer import build_observer

    return build_observer(model, step.observables, components, weights, probe=step.probe,
                          seed=probe_seed(step, ctx) if seed is None else seed,
                          per_sample=step.per_sample if per_sample is None else per_sample,
                          nbeta=step.sampler.nbeta, pools=list(step.pools) if per_sample is None else None,
                          per_token=step.per_token)


def sample_chains(step: SampleStep, ctx: StepContext, center: Path, components: dict, *, seed: int,
                  weights: dict[str, float] | None = None, chain_ids: list[int] | None = None,
                  init_loss: float | None = None, per_sample: bool | None = None,
                  label: str | None = None, start: Path | None = None,
                  design: dict[str, float] | None = None, probe: int | None = None,
                  **engine: object):
    """SGLD of ``step`` at the checkpoint ``center``, observing the step's observables at every draw.

    ``weights`` (default: the step's mixture) is the mixture both the sampler's loss and the
    observables read; ``chain_ids`` runs a subset of the chains (a group); ``label`` shows a
    progress bar; ``start`` is a finished chunk's part (its ``state.npz`` and ``moments.npz``) to
    continue from (``draws = auto``); ``design`` draws the minibatches from that mixture with loss
    weights (common random numbers across ``weights``, :func:`mixture_batches`); ``probe`` seeds
    the probe sets (default :func:`probe_seed`); ``engine`` sets engine-only :class:`SGLDConfig` fields
    (``keep_state``, ``keep_observations``). Returns the :class:`SGLDResult` and the observer (its
    moments hold the draws' observations, those of ``start`` included)."""
    from patternlang.engine.sampler.sgld import run_sgld
    from patternlang.models.losses import model_loss_fn

    weights = dict(step.mixture.weights) if weights is None else dict(weights)
    model = maybe_compile(load_weights(build_model(step.model, ctx), center), ctx.options.compile)
    observer = step_observer(step, ctx, model, components, weights, per_sample, probe)
    keep_state = bool(engine.pop("keep_state", False))
    cfg = sgld_config(step.sampler, seed, **engine)
    state = None
    if start is not None:
        from patternlang.engine.moments import Comoments
        from patternlang.engine.sampler.chain_state import ChainState

        state = ChainState.from_arrays(dict(np.load(start / "state.npz")))
        observer.resume(Comoments.from_state(dict(np.load(start / "moments.npz"))))
    steps = cfg.num_draws * cfg.thin if state is not None else cfg.total_steps  # a chunk: no burn-in
    bar = ctx.progress.task(label, total=steps, unit="step") if label else None
    result = run_sgld(model, model_loss_fn(cast(str, model.task)),
                      mixture_batches(components, weights, step.sampler.batch, ctx.device, design),
                      cfg,
                      observer=with_precision(observer, ctx.device, ctx.options.autocast),
                      chain_ids=chain_ids,
                      progress=_bar_callback(bar) if bar else None, init_loss=init_loss,
                      start=state, keep_state=keep_state)
    if bar:
        bar.close()
    return result, observer


def run_group(step: SampleStep, ctx: StepContext, center: Path, seed: int, group: list[int],
              components: dict, part_dir: Path, init_loss: float | None, *, start: Path | None = None,
              keep_state: bool = False):
    """Run one chain group of ``step`` at ``center`` (trained with ``seed``) and save it as a part:
    ``moments.npz`` (co-moments of observables and component losses), ``trace.npz`` (draw losses),
    ``sgld.json`` (the sampler result), and with ``keep_state`` ``state.npz`` (the chains' state,
    which a later chunk continues from: ``start`` is such a part). Returns the :class:`SGLDResult`."""
    result, observer = sample_chains(
        step, ctx, center, components, seed=center_seed(step, ctx, seed), chain_ids=group,
        init_loss=init_loss, label=f"{step.id}: center {seed} chains {group}", start=start,
        keep_state=keep_state)
    if keep_state:
        atomic_save_npz(part_dir / "state.npz", **result.extra["state"].to_arrays())
    atomic_save_npz(part_dir / "moments.npz", **observer.reset().state_dict())
    atomic_save_npz(part_dir / "trace.npz", loss=np.asarray(result.loss_trace))
    atomic_write_json(part_dir / "sgld.json", result.to_dict())
    return result


__all__ = ["sgld_config", "center_seed", "mixture_batches", "chain_groups", "chain_bytes",
           "probe_seed", "step_observer", "sample_chains", "run_group"]


def with_step(step: SampleStep, eps: float) -> SampleStep:
    """``step`` sampling at ``eps``, with a burn-in of at least one localization time 2/(εγ)."""
    burnin = max(step.sampler.burnin, math.ceil(localization_steps(eps, step.sampler.gamma)))
    return step.model_copy(update={"sampler": step.sampler.model_copy(update={"step": eps, "burnin": burnin})})



def _as_sampled(step: SampleStep, sampled: SampleResult) -> SampleStep:
    """The sample step as it ran, from its :class:`SampleResult` ``sampled``: at the ε its scan
    chose (``step = auto``) and with the draws it used (``draws = auto``), so that later steps
    re-sampling it (finite-difference check, iterative rounds) sample alike."""
    if step.sampler.step == "auto":
        step = with_step(step, float(sampled.step_size))
    if step.sampler.draws_auto is not None and sampled.draws:
        step = step.model_copy(update={"sampler": step.sampler.model_copy(
            update={"draws": int(sampled.draws), "draws_auto": None})})
    return step


def write_back(plan: Plan, step: Step, result: StepResult | None) -> Plan:
    """``plan`` with the finished ``step`` as it ran: a sample step's ``step = auto`` and ``draws =
    auto`` replaced by the ε and draws its result records (lark's resolve-once-and-write-back of
    defaults). The executor calls it once per finished step; every later runner then reads ε, nβ
    and draws from ``ctx.plan`` (other kinds, and a rank without the result, leave it as it is)."""
    if not isinstance(step, SampleStep) or not isinstance(result, SampleResult):
        return plan
    ran = _as_sampled(step, result)
    if ran is step:
        return plan
    return plan.model_copy(update={"steps": [ran if s.id == step.id else s for s in plan.steps]})


def sample_workers(ctx: StepContext, units: int) -> int:
    """Processes for this rank's chain groups: on a CPU outside a distributed run, one per usable core
    (``RunOptions.workers``, ``patc run --workers``, overrides), at most one per group; 1 on a GPU or
    with several ranks. A group's numbers depend only on its chains, so the count never changes a result."""
    from patternlang.engine.sampler.pool import cpu_workers

    if ctx.device.type != "cpu" or ctx.dist.active:
        return 1
    return cpu_workers(units, ctx.options.workers)


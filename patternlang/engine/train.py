"""Training on weighted mixtures, deterministic per seed.

One step: draw a stratified batch from the mixture (its counts per component follow the weights
``h``, see :mod:`patternlang.data.mixture`), compute per-sample losses
(:func:`patternlang.models.losses.per_sample_loss`), optionally reweight them, take an optimizer step
with the scheduled learning rate and gradient clipping.

Loss weights (``sample_weights``) change the objective without changing what is drawn:

* a mapping ``{component name: multiplier}``: every sample of that component counts that much;
* a callable ``(batch, component_index) -> Tensor[n]`` (per sample) or ``Tensor[n, T-1]``
  (per predicted token, language models only), e.g. from a per-sample chi direction.

The weighted loss is ``sum(w * l) / sum(w)`` over the batch (a weighted average, so scaling every
weight by the same factor changes nothing).

Determinism: data come from one ``torch.Generator`` seeded with ``seed``; the model's initial
weights are the caller's (stdlib models take their own ``seed``). Same model, mixture, settings and
seed give bit-identical losses and weights on the same device and thread count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, cast
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from patternlang.data.mixture import Mixture
from patternlang.errors import PatRuntimeError
from patternlang.models.losses import per_sample_loss, per_token_loss
from patternlang.plan.ir import OptimizerSpec

SampleWeights = Mapping[str, float] | Callable[[dict[str, Tensor], Tensor], Tensor] | None


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        steps: optimizer steps taken.
        loss: (weighted) training loss of each step's batch, before its update.
        component_loss: per component name, the mean loss of its samples at each step (NaN where
            a batch held none of them).
        lr: learning rate used at each step.
        evals: ``(step, value)`` for every ``on_eval`` call (``value`` is what it returned).
        checkpoints: steps at which ``on_checkpoint`` was called.
        seconds: wall time.
    """

    steps: int
    loss: list[float] = field(default_factory=list)
    component_loss: dict[str, list[float]] = field(default_factory=dict)
    lr: list[float] = field(default_factory=list)
    evals: list[tuple[int, Any]] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    seconds: float = 0.0


def lr_factor(schedule: str, step: int, total: int, warmup: int = 0) -> float:
    """Learning-rate multiplier at ``step`` (0-based) of ``total``.

    ``warmup`` steps ramp linearly from ``1/warmup`` to 1 for every schedule; after it, ``constant``
    stays at 1, ``linear`` decays to 0 at ``total``, ``cosine`` / ``warmup_cosine`` follow
    ``(1 + cos(pi * progress)) / 2``.
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    if schedule in ("cosine", "warmup_cosine"):
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    raise PatRuntimeError("train", f"unknown schedule {schedule!r}",
                          "use constant, linear, cosine or warmup_cosine")


def make_optimizer(params: Sequence[nn.Parameter], spec: OptimizerSpec) -> torch.optim.Optimizer:
    """The torch optimizer an :class:`OptimizerSpec` names."""
    if spec.name == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, weight_decay=spec.weight_decay)
    raise PatRuntimeError("train", f"unknown optimizer {spec.name!r}", "use adamw, adam or sgd")


def _to(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def weighted_loss(model: nn.Module, batch: dict[str, Tensor], index: Tensor, names: list[str],
                  sample_weights: SampleWeights) -> tuple[Tensor, Tensor]:
    """(scalar loss to minimise, per-sample losses [n] detached)."""
    task = cast(str, model.task)
    logits = model(batch["tokens"])
    per_sample = per_sample_loss(task, logits, batch)
    if sample_weights is None:
        return per_sample.mean(), per_sample.detach()
    if isinstance(sample_weights, Mapping):
        table = torch.tensor([float(sample_weights.get(n, 1.0)) for n in names],
                             dtype=per_sample.dtype, device=per_sample.device)
        w = table[index]
    else:
        w = sample_weights(batch, index).to(per_sample.device, per_sample.dtype)
    if w.dim() == 2:
        if task != "lm":
            raise PatRuntimeError("train", "per-token weights given for a classifier",
                                  "give one weight per sample")
        tok = per_token_loss(logits, batch)
        if w.shape != tok.shape:
            raise PatRuntimeError("train", f"per-token weights of shape {tuple(w.shape)} for "
                                  f"token losses {tuple(tok.shape)}", "give weights [n, T-1]")
        return (w * tok).sum() / w.sum().clamp_min(1e-12), per_sample.detach()
    if w.shape != per_sample.shape:
        raise PatRuntimeError("train", f"sample weights of shape {tuple(w.shape)} for a batch of "
                              f"{per_sample.shape[0]}", "give one weight per sample")
    return (w * per_sample).sum() / w.sum().clamp_min(1e-12), per_sample.detach()


def _check(model: nn.Module, mixture: Mixture, steps: int, batch: int) -> None:
    if getattr(model, "task", None) != mixture.task:
        raise PatRuntimeError("train", f"model task {getattr(model, 'task', None)!r} does not match "
                              f"the data's task {mixture.task!r}", "pair LMs with token data and "
                              "classifiers with labelled data")
    vocab = getattr(model, "vocab", None) or (getattr(model, "config", {}) or {}).get("vocab")
    if vocab is not None and mixture.vocab_size is not None and mixture.vocab_size > vocab:
        raise PatRuntimeError("train", f"the data use {mixture.vocab_size} token ids but the model "
                              f"has vocab {vocab}", "give the model a vocab at least as large")
    if steps < 0 or batch < 1:
        raise PatRuntimeError("train", f"steps={steps}, batch={batch}", "use steps >= 0, batch >= 1")


def train(model: nn.Module, mixture: Mixture, steps: int, batch: int, optimizer: OptimizerSpec,
          seed: int, checkpoints: Sequence[int] = (),
          on_checkpoint: Callable[[int, nn.Module], Any] | None = None,
          on_eval: Callable[[int, nn.Module], Any] | None = None, eval_every: int = 0,
          sample_weights: SampleWeights = None, device: str | torch.device = "cpu",
          on_step: Callable[[int], Any] | None = None) -> TrainResult:
    """Train ``model`` in place on ``mixture`` for ``steps`` optimizer steps.

    Args:
        model: a module with ``task`` ``"lm"`` or ``"classify"``.
        mixture: the weighted data components.
        steps: optimizer steps.
        batch: sequences per step.
        optimizer: optimizer, learning rate, schedule, warmup, weight decay, gradient clipping.
        seed: seed of the data stream.
        checkpoints: steps (0..steps) at which ``on_checkpoint(step, model)`` is called; step ``s``
            means "after ``s`` updates".
        on_checkpoint: callback for checkpoints (e.g. :func:`patternlang.models.checkpoint.save`).
        on_eval: callback evaluated every ``eval_every`` steps and at the end (observables along
            training); its return values are kept in ``TrainResult.evals``.
        eval_every: evaluation period in steps (0: never).
        sample_weights: loss weights per component, per sample or per token (see module docs).
        device: where to train.
        on_step: called with the number of updates done after each one (progress bars).
    """
    _check(model, mixture, steps, batch)
    device = torch.device(device)
    model.to(device).train()
    g = torch.Generator().manual_seed(int(seed))
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad], optimizer)
    marks = {int(s) for s in checkpoints}
    bad = sorted(s for s in marks if not 0 <= s <= steps)
    if bad:
        raise PatRuntimeError("train", f"checkpoint steps {bad} are outside 0..{steps}",
                              "declare checkpoints within the training run")
    names = mixture.names
    result = TrainResult(steps=steps, component_loss={n: [] for n in names})
    t0 = time.perf_counter()

    def hooks(step: int) -> None:
        if step in marks and on_checkpoint is not None:
            on_checkpoint(step, model)
            result.checkpoints.append(step)
        if on_eval is not None and eval_every > 0 and (step % eval_every == 0 or step == steps):
            result.evals.append((step, on_eval(step, model)))
            model.train()

    hooks(0)
    for step in range(steps):
        lr = optimizer.lr * lr_factor(optimizer.schedule, step, steps, optimizer.warmup)
        for group in opt.param_groups:
            group["lr"] = lr
        data, index = mixture.sample(batch, g)
        loss, per_sample = weighted_loss(model, _to(data, device), index.to(device), names,
                                         sample_weights)
        if not torch.isfinite(loss):
            raise PatRuntimeError("train", f"the training loss became {loss.item()} at step {step}",
                                  "lower the learning rate or enable gradient clipping")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if optimizer.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), optimizer.grad_clip)
        opt.step()
        result.loss.append(loss.item())
        result.lr.append(lr)
        sums = torch.zeros(len(names), dtype=torch.float64).index_add_(
            0, index, per_sample.double().cpu())
        counts = torch.bincount(index.cpu(), minlength=len(names))
        for k, n in enumerate(names):
            result.component_loss[n].append(float(sums[k] / counts[k]) if counts[k] else math.nan)
        hooks(step + 1)
        if on_step is not None:
            on_step(step + 1)
    result.seconds = time.perf_counter() - t0
    return result

"""How the sampler gets every chain's minibatch loss and gradient from ``flat: [C, P]``.

Three routes, same numbers to float tolerance (``SGLDConfig.batching`` picks one):

* a loss in chain-batched form (a :func:`~patternlang.engine.sampler.sgld.chain_batched` loss, or what a
  ``model_loss_fn`` loss builds for a model implementing ``chain_batched_forward``) called once on all
  chains — one ordinary backward then gives every chain's gradient, as chains do not interact;
* that form called chain by chain (``"loop"``; ``"auto"`` does this on a CPU for big models, where
  single-chain kernels keep the activations in cache);
* ``vmap(grad_and_value(...))`` of the plain ``loss_fn(model, batch)`` over the chain dim.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

from patternlang.engine.sampler.restrict import ParamLayout

Batch = dict[str, Tensor]
LossFn = Callable[..., Tensor]


class _LossModule(nn.Module):
    def __init__(self, model: nn.Module, loss_fn: LossFn):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Batch) -> Tensor:
        return self.loss_fn(self.model, batch)


def _mean_loss(per_sample: Tensor, batch: Batch, dim: int = -1) -> Tensor:
    w = batch.get("weight")
    if w is None:
        return per_sample.mean(dim)
    w = w.to(per_sample.dtype)
    return (per_sample * w).sum(dim) / w.sum(dim)


LOOP_ON_CPU_PARAMS = 1 << 16
"""``batching="auto"`` on a CPU runs a native chain-batched loss chain by chain from this many
parameters per chain up: a C-chain kernel streams C times the activations through the caches, which
measured ~5-8 % slower per chain than C single-chain kernels on one core (bench/sgld_overhead.py)."""


def _native_batched(model: nn.Module, loss_fn: LossFn) -> LossFn | None:
    """The chain-batched form of ``loss_fn``: itself when marked :func:`chain_batched`, else what its
    ``chain_batched_for(model)`` returns (``model_loss_fn`` offers one when the model implements
    ``chain_batched_forward``), else ``None`` (the sampler then uses ``vmap``)."""
    if getattr(loss_fn, "chain_batched", False):
        return loss_fn
    make = getattr(loss_fn, "chain_batched_for", None)
    return make(model) if make is not None else None


class ChainLoss:
    """Per-chain minibatch mean losses ``[C]`` of the stacked parameters ``flat: [C, P]``.

    Three ways to get them, same numbers to float tolerance: a chain-batched loss called once on all
    chains (``batched``), that loss called chain by chain (``mode == "loop"``), or ``vmap`` of the
    plain ``loss_fn`` over the chain dim.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, layout: ParamLayout, mode: str = "auto",
                 device: torch.device | None = None, trainable: tuple[str, ...] | None = None,
                 heads: tuple[int, list[int]] | None = None):
        self.layout, self.loss_fn = layout, loss_fn
        # the parameters a restriction moves (None: all). The native route differentiates only
        # these: frozen layers below them get no backward pass, frozen weights no weight gradient.
        self.trainable = None if trainable is None or set(trainable) == set(layout.names) else set(trainable)
        marked = bool(getattr(loss_fn, "chain_batched", False))
        self.batched = _native_batched(model, loss_fn) if (marked or mode != "vmap") else None
        if mode == "auto":
            big_on_cpu = (device is None or device.type == "cpu") and layout.numel >= LOOP_ON_CPU_PARAMS
            mode = "loop" if self.batched is not None and big_on_cpu else "batched"
        self.mode = mode
        kind = "native" if self.batched is not None and not marked else "chain_batched" if marked else "loss_fn"
        # only some heads of one layer move: the model's head-split forward, where it has one
        make = getattr(loss_fn, "chain_batched_for", None)
        self.head_loss: LossFn | None = None
        if heads is not None and self.trainable is not None and self.batched is not None and make is not None:
            self.head_loss = make(model, heads)
        if self.head_loss is not None and heads is not None:
            kind += f", heads l{heads[0]}{list(heads[1])}"
        self.description = f"{'vmap' if mode == 'batched' and self.batched is None else mode} ({kind})"
        self.module = _LossModule(model, loss_fn)
        self.names = ["model." + n for n in layout.names]

    def _one(self, row: Tensor, batch: Batch) -> Tensor:
        views = self.layout.views(row)
        per = functional_call(self.module, dict(zip(self.names, views.values())), (batch,))
        return _mean_loss(per, batch)

    def _batched_losses(self, flat: Tensor, batch: Batch, shared: bool) -> Tensor:
        C = flat.shape[0]
        if shared:
            batch = {k: v.expand(C, *v.shape) for k, v in batch.items()}
        assert self.batched is not None
        return _mean_loss(self.batched(self.layout.views(flat), batch), batch)

    def __call__(self, flat: Tensor, batch: Batch, shared: bool) -> Tensor:
        """Losses only (no gradient)."""
        if self.batched is not None:
            return self._batched_losses(flat, batch, shared)
        return vmap(self._one, in_dims=(0, None if shared else 0))(flat, batch)

    def value_and_grad(self, flat: Tensor, batch: Batch, shared: bool) -> tuple[Tensor, Tensor]:
        """Per-chain losses ``[C]`` and gradients ``[C, P]``."""
        if self.batched is not None and self.mode == "loop":
            outs = [self._batched_value_and_grad(flat[i:i + 1], batch if shared else
                                                 {k: v[i:i + 1] for k, v in batch.items()}, shared)
                    for i in range(flat.shape[0])]
            return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])
        if self.batched is not None:
            return self._batched_value_and_grad(flat, batch, shared)
        if self.mode == "loop":  # same numbers chain by chain
            gv = grad_and_value(self._one)
            outs = [gv(flat[i], batch if shared else {k: v[i] for k, v in batch.items()})
                    for i in range(flat.shape[0])]
            return torch.stack([o[1] for o in outs]).detach(), torch.stack([o[0] for o in outs])
        fn = vmap(grad_and_value(self._one), in_dims=(0, None if shared else 0))
        grad, losses = fn(flat, batch)
        return losses.detach(), grad

    def _batched_value_and_grad(self, flat: Tensor, batch: Batch, shared: bool) -> tuple[Tensor, Tensor]:
        # one ordinary backward: chains do not interact, so d(sum)/dflat stacks the per-chain gradients
        if self.trainable is not None:
            return self._restricted_value_and_grad(flat, batch, shared)
        leaf = flat.detach().requires_grad_(True)
        with torch.enable_grad():
            losses = self._batched_losses(leaf, batch, shared)
            (grad,) = torch.autograd.grad(losses.sum(), leaf)
        return losses.detach(), grad

    def _restricted_value_and_grad(self, flat: Tensor, batch: Batch, shared: bool) -> tuple[Tensor, Tensor]:
        """Gradients of the trainable parameters only (zeros elsewhere: the update never reads them)."""
        assert self.trainable is not None
        views = self.layout.views(flat.detach())
        leaves = {n: v.detach().requires_grad_(True) for n, v in views.items() if n in self.trainable}
        views.update(leaves)
        C = flat.shape[0]
        if shared:
            batch = {k: v.expand(C, *v.shape) for k, v in batch.items()}
        fn = self.head_loss or self.batched
        assert fn is not None
        with torch.enable_grad():
            losses = _mean_loss(fn(views, batch), batch)
            grads = torch.autograd.grad(losses.sum(), list(leaves.values()))
        grad = torch.zeros_like(flat)
        for name, g in zip(leaves, grads):
            grad[:, self.layout.slice_of(name)] = g.reshape(C, -1)
        return losses.detach(), grad

"""Per-sample and per-token losses, l_z(w) = -log p(y | x, w), for the two stdlib tasks.

* ``lm``: a batch ``{"tokens": [n, T]}``; the model predicts token t+1 from tokens <= t. A sample's
  loss is its mean next-token cross-entropy over positions 1..T-1 (optionally over ``"loss_mask"``).
* ``classify``: a batch ``{"tokens": [n, T], "label": [n]}``; logits ``[n, classes]``.

Everything here is a pure function of the logits, so it vmaps over chains, and every function also
accepts extra leading dims (e.g. a chain dim: logits ``[C, n, T, V]``, tokens ``[C, n, T]``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def per_token_loss(logits: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Next-token cross-entropy per position: logits [..., n, T, V] -> [..., n, T-1]."""
    tokens = batch["tokens"]
    # the fused cross-entropy on every position (the last one predicts nothing: an ignored target),
    # then the slice: slicing the logits first would copy them
    target = torch.cat([tokens[..., 1:], torch.full_like(tokens[..., :1], -100)], dim=-1)
    tok = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                            reduction="none")
    return tok.view(tokens.shape)[..., :-1]


def per_sample_loss(task: str, logits: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Loss of each sample in the batch -> [n] (or [..., n] with leading dims)."""
    if task == "lm":
        tok = per_token_loss(logits, batch)
        mask = batch.get("loss_mask")
        if mask is None:
            return tok.mean(dim=-1)
        m = mask[..., 1:].to(tok.dtype)
        return (tok * m).sum(-1) / m.sum(-1).clamp_min(1.0)
    if task == "classify":
        label = batch["label"]
        flat = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), label.reshape(-1),
                                                 reduction="none")
        return flat.view(label.shape)
    raise ValueError(f"unknown task {task!r}: expected 'lm' or 'classify'")


def model_loss_fn(task: str):
    """A ``loss_fn(model, batch) -> Tensor[n]`` for the sampler and trainer.

    The function also carries ``chain_batched_for(model)``: when the model implements the
    ``chain_batched_forward(params, tokens)`` protocol (parameters ``{name: [C, *shape]}``, tokens
    ``[C, n, T]`` -> logits with a leading chain dim), it returns the same loss in chain-batched form
    (``fn(params, batch) -> Tensor[C, n]``, marked ``chain_batched``), which the sampler runs instead of
    ``vmap``; otherwise ``None``. ``chain_batched_for(model, heads=(layer, [h, ...]))`` gives the same
    loss through the model's ``chain_batched_head_forward`` (only those heads carry gradients; equal
    within float reassociation), or ``None`` when the model has none.
    """

    def loss_fn(model: torch.nn.Module, batch: dict[str, Tensor]) -> Tensor:
        return per_sample_loss(task, model(batch["tokens"]), batch)

    def chain_batched_for(model: torch.nn.Module, heads: tuple[int, list[int]] | None = None):
        forward = getattr(model, "chain_batched_forward", None)
        if heads is not None:  # only these (layer, heads) move: the model's head-split forward
            split = getattr(model, "chain_batched_head_forward", None)
            forward = None if split is None else (lambda params, tokens: split(params, tokens, *heads))
        if forward is None:
            return None

        def batched_loss(params: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
            return per_sample_loss(task, forward(params, batch["tokens"]), batch)

        batched_loss.chain_batched = True  # type: ignore[attr-defined]
        return batched_loss

    loss_fn.chain_batched_for = chain_batched_for  # type: ignore[attr-defined]
    return loss_fn

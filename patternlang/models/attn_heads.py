"""Head-split passes of the attention-only transformer: when only some heads of one layer move.

An attention layer adds ``b_O + Σ_h z_h W_O,h`` to the residual stream, one term per head. When a
sampler moves only heads ``M`` of layer ``l`` (``restrict = [l1h0]``), everything before layer ``l``
and the frozen heads' terms do not depend on the sampled coordinates::

    x_l+1 = [x_l + b_O + Σ_{h∉M} z_h W_O,h]  +  z_M W_O,M
            '-------- partial (frozen) ------'   moving heads (h of H)

and when ``l`` is the last layer and the readout is linear (logits = x W_U + b_U, no final
LayerNorm) the logits split the same way, the moving heads entering through a rank-``h·d_head``
product::

    logits = [partial · W_U + b_U]  +  z_M · (W_O,M W_U)
             '------- base -------'

* The SGLD step (:func:`head_split_forward`) computes the frozen part without autograd, so its
  backward pass runs only through the moving heads and the rank-h product (not through the full
  unembedding and every head of the layer).
* The observation engine (:mod:`patternlang.observables.head_delta`) caches ``partial`` and ``base``
  once per fixed probe and adds only the moving heads' term at each draw.

The sums are the same terms added in another order: the logits equal the ordinary pass within float32
reassociation (tests/models/test_attn_heads.py), not bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor


def frozen_partial(params: dict[str, Tensor], residual: Tensor, layer: int, frozen: list[int],
                   heads_fn) -> Tensor:
    """``residual + b_O + Σ_{h in frozen} z_h W_O,h`` of layer ``layer`` (``[C, n, T, D]``; ``frozen``
    not empty); ``heads_fn(params, residual, layer, heads) -> (z, W_O, b_O)``."""
    C, n, T, D = residual.shape
    z, W_O, b_O = heads_fn(params, residual, layer, frozen)
    return residual + torch.baddbmm(b_O, z, W_O).view(C, n, T, D)


def add_moving(partial: Tensor, base: Tensor | None, z: Tensor, W_O: Tensor, W_U: Tensor | None) -> Tensor:
    """The moving heads' term added to the frozen part: logits ``[C, n*T, V]`` from ``base`` (the
    frozen part's logits, ``[1 or C, n*T, V]``) and ``W_U`` when given, else the residual stream
    ``[C, n*T, D]`` after the layer (the caller continues the network from it)."""
    C = z.shape[0]
    if base is not None:
        mix = torch.bmm(W_O, W_U)  # [C, h*d_head, V]: the moving heads' route to the logits
        return torch.baddbmm(base.expand(C, *base.shape[1:]), z, mix)
    nT, D = z.shape[1], W_O.shape[2]
    return torch.baddbmm(partial.reshape(-1, nT, D).expand(C, nT, D), z, W_O)


def head_split_forward(model, params: dict[str, Tensor], tokens: Tensor, layer: int, heads: list[int]) -> Tensor:
    """Logits ``[C, n, T, V]`` of ``model`` (the prefix and head protocols of
    :class:`~patternlang.models.attn_only.AttnOnlyTransformer`) when only heads ``heads`` of layer
    ``layer`` carry gradients: every other parameter is read detached, so autograd records only the
    moving heads (and, after the last layer with a linear readout, the rank-h product)."""
    C, n, T = tokens.shape
    fixed = {k: v.detach() for k, v in params.items()}
    frozen = [h for h in range(model.n_heads) if h not in heads]
    readout_moves = any(params[k].requires_grad for k in model.readout_parameters())
    last = layer == model.n_layers - 1 and not readout_moves
    with torch.no_grad():
        residual, _ = model.chain_batched_prefix(fixed, tokens, layer + 1)
        partial = frozen_partial(fixed, residual, layer, frozen, model.chain_batched_heads)
        W_U = model.linear_readout(fixed) if last else None
        base = None if W_U is None else model.chain_batched_suffix(fixed, partial, model.n_layers + 1)
    z, W_O, _ = model.chain_batched_heads(params, residual, layer, heads)
    if base is not None:
        return add_moving(partial, base.view(C, n * T, -1), z, W_O, W_U).view(C, n, T, -1)
    x = add_moving(partial, None, z, W_O, None).view(C, n, T, -1)
    return model.chain_batched_suffix(params, x, layer + 2)

"""The attention-only transformer of :mod:`.attn_only` as a pure function of chain-batched
parameters: every parameter has a leading chain dim ``[C, ...]`` and the tokens are ``[C, n, T]``;
each matmul carries the chain index as a batch dim (one ``bmm`` per weight instead of ``vmap``'s
rewritten kernels). :class:`~patternlang.models.attn_only.AttnOnlyTransformer` runs its own forward
through it with ``C = 1``; the sampler runs it over stacked chains, whole
(:func:`attn_only_forward`), in stages (:func:`attn_only_residual`, :func:`attn_only_suffix`) or
head by head (:func:`head_outputs`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _heads_to_cols(W: Tensor) -> Tensor:
    """[C, H, d_model, d_head] -> [C, d_model, H*d_head] (one matmul computes every head)."""
    C, H, D, E = W.shape
    return W.permute(0, 2, 1, 3).reshape(C, D, H * E)


def _is_vmapped(t: Tensor) -> bool:
    """True inside a ``torch.func`` transform (``vmap`` has no batching rule for the fused attention)."""
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))


def head_outputs(x: Tensor, p: dict[str, Tensor], pre: str, need_pattern: bool,
                  heads: list[int] | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
    """The heads' outputs before the output projection: (z [C, n*T, h*E], W_O [C, h*E, D], pattern
    [C, n, h, T, T] or None) for every head, or only ``heads``; the layer adds b_O + z @ W_O."""
    C, n, T, D = x.shape
    E = p[pre + "b_Q"].shape[2]
    pick = (lambda t: t) if heads is None else (lambda t: t[:, heads])  # noqa: E731
    H = p[pre + "b_Q"].shape[1] if heads is None else len(heads)
    W = torch.cat([_heads_to_cols(pick(p[pre + k])) for k in ("W_Q", "W_K", "W_V")], dim=2)  # [C, D, 3HE]
    b = torch.cat([pick(p[pre + k]).reshape(C, 1, H * E) for k in ("b_Q", "b_K", "b_V")], dim=2)
    qkv = torch.baddbmm(b, x.reshape(C, n * T, D), W).view(C, n, T, 3, H, E)
    # unbind (not three selects): its backward stacks the three gradients in one buffer, where each
    # select's backward zero-fills a full-size [C, n, T, 3, H, E] tensor (same values, ~2 % of a step)
    q, k, v = (t.transpose(2, 3) for t in qkv.unbind(3))  # [C, n, H, T, E]
    if need_pattern or _is_vmapped(x):  # functorch has no batching rule for the fused kernel
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(E)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        pattern = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        z = pattern @ v
    else:  # the fused kernel: same numbers to float tolerance, no [T, T] pattern kept for backward
        pattern = None
        qf, kf, vf = (t.reshape(C * n, H, T, E) for t in (q, k, v))
        z = nn.functional.scaled_dot_product_attention(qf, kf, vf, is_causal=True).view(C, n, H, T, E)
    z = z.transpose(2, 3).reshape(C, n * T, H * E)  # [C, n*T, H*E]
    return z, pick(p[pre + "W_O"]).reshape(C, H * E, D), pattern


def attention_batched(x: Tensor, p: dict[str, Tensor], pre: str,
                       need_pattern: bool) -> tuple[Tensor, Tensor | None]:
    """Chain-batched causal attention: x [C, n, T, D] -> (out [C, n, T, D], pattern [C, n, H, T, T])."""
    z, W_O, pattern = head_outputs(x, p, pre, need_pattern)
    out = torch.baddbmm(p[pre + "b_O"][:, None, :], z, W_O)
    return out.view(x.shape), pattern


def attn_only_forward(params: dict[str, Tensor], tokens: Tensor, n_layers: int, final_ln: bool = False,
                      return_attention: bool = False):
    """The attention-only LM with a chain dim: ``params[name]: [C, *shape]``, tokens ``[C, n, T]``.

    Returns logits ``[C, n, T, vocab]`` (and, with ``return_attention``, patterns
    ``[C, layers, n, H, T, T]``). Chains never interact: chain ``c``'s logits depend only on chain
    ``c``'s parameters and tokens, so the gradient of a sum over chains is the stack of per-chain
    gradients.
    """
    x, patterns = attn_only_residual(params, tokens, n_layers, return_attention)
    return attn_only_suffix(params, x, n_layers, n_layers, final_ln, return_attention, patterns)


def attn_only_residual(params: dict[str, Tensor], tokens: Tensor, layers: int,
                       return_attention: bool = False) -> tuple[Tensor, list]:
    """The residual stream ``[C, n, T, d_model]`` after the embeddings and the first ``layers``
    attention layers (and those layers' patterns, or ``None`` each, without ``return_attention``)."""
    C, n, T = tokens.shape
    W_E = params["embed.W_E"]
    V, D = W_E.shape[1:]
    offsets = (torch.arange(C, device=tokens.device) * V).view(C, 1, 1)
    x = nn.functional.embedding(tokens + offsets, W_E.reshape(C * V, D))  # [C, n, T, D]
    x = x + params["pos_embed.W_pos"][:, None, :T]
    return _layers(params, x, range(layers), return_attention)


def _layers(params: dict[str, Tensor], x: Tensor, layers: range, return_attention: bool) -> tuple[Tensor, list]:
    patterns = []
    for layer in layers:
        out, pattern = attention_batched(x, params, f"blocks.{layer}.attn.", return_attention)
        x = x + out
        patterns.append(pattern)
    return x, patterns


def attn_only_suffix(params: dict[str, Tensor], x: Tensor, start: int, n_layers: int, final_ln: bool = False,
                     return_attention: bool = False, patterns: list | None = None):
    """The rest of :func:`attn_only_forward` from the residual ``x`` after layer ``start - 1``
    (``start = 0``: after the embeddings): layers ``start..n_layers-1``, then the unembedding.
    ``patterns`` are the first ``start`` layers' patterns (needed with ``return_attention``)."""
    x, later = _layers(params, x, range(start, n_layers), return_attention)
    if final_ln:
        D = x.shape[-1]
        w, b = params["ln_final.w"][:, None, None], params["ln_final.b"][:, None, None]
        x = nn.functional.layer_norm(x, (D,)) * w + b
    C, n, T, D = x.shape
    logits = torch.baddbmm(params["unembed.b_U"][:, None, :], x.reshape(C, n * T, D), params["unembed.W_U"])
    logits = logits.view(C, n, T, -1)
    if return_attention:
        return logits, torch.stack(list(patterns or []) + later, dim=1)
    return logits

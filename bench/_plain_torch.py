"""The floor: a plain, well-written torch implementation of the stdlib attention-only LM.

Nothing of patternlang runs here: ``nn.Linear`` projections with the three of Q, K, V fused in one
matmul, the fused causal attention kernel (``scaled_dot_product_attention``), a tied-to-nothing
unembedding and ``F.cross_entropy``. It is what a careful person writes by hand for this network, so
``time(patternlang) / time(floor)`` measures what the library adds on top of the network's own cost.
:func:`from_patternlang` copies an ``AttnOnlyTransformer``'s weights in (same function, checked by
:func:`max_logit_diff`).

Used by ``bench/vs_devinterp.py``, ``bench/sgld_overhead.py``, ``bench/observe_overhead.py`` and
``bench/scaling.py``.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PlainAttnOnly(nn.Module):
    """Attention-only causal LM: embed + pos, ``layers`` x (fused QKV, causal SDPA, out proj), unembed."""

    def __init__(self, vocab: int, d_model: int, layers: int, heads: int, d_head: int, context: int):
        super().__init__()
        self.heads, self.d_head = heads, d_head
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(context, d_model))
        self.qkv = nn.ModuleList(nn.Linear(d_model, 3 * heads * d_head) for _ in range(layers))
        self.out = nn.ModuleList(nn.Linear(heads * d_head, d_model) for _ in range(layers))
        self.unembed = nn.Linear(d_model, vocab)

    def forward(self, tokens: Tensor) -> Tensor:
        n, T = tokens.shape
        H, E = self.heads, self.d_head
        x = self.embed(tokens) + self.pos[:T]
        for qkv, out in zip(self.qkv, self.out):
            q, k, v = qkv(x).view(n, T, 3, H, E).permute(2, 0, 3, 1, 4)  # each [n, H, T, E]
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + out(z.transpose(1, 2).reshape(n, T, H * E))
        return self.unembed(x)

    def loss(self, tokens: Tensor) -> Tensor:
        """Mean next-token cross-entropy of a batch ``[n, T]``."""
        logits = self(tokens)[:, :-1]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


@torch.no_grad()
def from_patternlang(model) -> PlainAttnOnly:
    """A :class:`PlainAttnOnly` with the weights of a (``final_ln=False``) ``AttnOnlyTransformer``."""
    c = model.config
    plain = PlainAttnOnly(c["vocab"], c["d_model"], c["n_layers"], c["n_heads"], c["d_head"], c["context"])
    p = dict(model.named_parameters())
    plain.embed.weight.copy_(p["embed.W_E"])
    plain.pos.copy_(p["pos_embed.W_pos"])
    for layer in range(c["n_layers"]):
        pre = f"blocks.{layer}.attn."
        W = torch.cat([p[pre + k].permute(1, 0, 2).reshape(c["d_model"], -1) for k in ("W_Q", "W_K", "W_V")], 1)
        plain.qkv[layer].weight.copy_(W.T)
        plain.qkv[layer].bias.copy_(torch.cat([p[pre + k].reshape(-1) for k in ("b_Q", "b_K", "b_V")]))
        plain.out[layer].weight.copy_(p[pre + "W_O"].reshape(-1, c["d_model"]).T)
        plain.out[layer].bias.copy_(p[pre + "b_O"])
    plain.unembed.weight.copy_(p["unembed.W_U"].T)
    plain.unembed.bias.copy_(p["unembed.b_U"])
    return plain


@torch.no_grad()
def max_logit_diff(model, plain: PlainAttnOnly, tokens: Tensor) -> float:
    """Largest |logit difference| of the two implementations on ``tokens`` (should be ~1e-6)."""
    return float((model(tokens) - plain(tokens)).abs().max())


def time_fwd_bwd(plain: PlainAttnOnly, tokens: Tensor, clock=time.perf_counter) -> float:
    """Seconds of one training-style forward+backward of the batch (grads into the module); ``clock``
    ``time.process_time`` counts CPU time instead of wall time."""
    t = clock()
    plain.loss(tokens).backward()
    plain.zero_grad(set_to_none=True)
    return clock() - t


def time_forward(plain: PlainAttnOnly, tokens: Tensor, clock=time.perf_counter) -> float:
    """Seconds of one no-grad forward + per-sequence loss of the batch (an observation pass)."""
    t = clock()
    with torch.no_grad():
        plain.loss(tokens)
    return clock() - t

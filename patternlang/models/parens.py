"""A small bidirectional transformer classifier for the parentheses task.

Pre-LayerNorm blocks of (bidirectional attention over the real tokens, optional ReLU MLP), then a
final LayerNorm and a 2-class head read at the CLS position (index 0). Padding (token 0) is masked out
of the keys; the mask is derived from the tokens, so ``forward(tokens)`` needs nothing else and stays
a pure function of parameters and input (``functional_call`` / ``vmap`` safe). Attention parameters
use the same per-head layout as :mod:`patternlang.models.attn_only` (head ``h`` is index ``h`` on
dim 0), so ``head_parameters(layer, head)`` is an index.

Parameters::

    embed.W_E [vocab, d_model]; pos_embed.W_pos [context, d_model]
    blocks.{l}.ln1.w|b, blocks.{l}.ln2.w|b [d_model]
    blocks.{l}.attn.W_Q|W_K|W_V [H, d_model, d_head], b_Q|b_K|b_V [H, d_head],
    blocks.{l}.attn.W_O [H, d_head, d_model], b_O [d_model]
    blocks.{l}.mlp.W_in [d_model, d_mlp], b_in [d_mlp], W_out [d_mlp, d_model], b_out [d_model]
    ln_final.w|b [d_model]; unembed.W_U [d_model, 2], unembed.b_U [2]
"""

from __future__ import annotations

import math
from typing import Annotated

import torch

from patternlang.errors import PatRuntimeError
from torch import Tensor, nn

from patternlang.models.attn_only import (Embed, HeadWeights, LayerNorm, PosEmbed, Unembed,
                                         head_slices)
from patternlang.registry import Range, primitive

PAD = 0


class BidirectionalAttention(HeadWeights):
    """Multi-head attention over all non-padding keys (or, with ``causal``, earlier ones)."""

    def __init__(self, d_model: int, n_heads: int, d_head: int, causal: bool = False):
        super().__init__(d_model, n_heads, d_head)
        self.causal = causal

    def forward(self, x: Tensor, key_mask: Tensor) -> tuple[Tensor, Tensor]:
        """x [n, T, d], key_mask [n, T] (True = real token) -> (out [n, T, d], pattern [n, H, T, T])."""
        q = torch.einsum("ntd,hde->nhte", x, self.W_Q) + self.b_Q[None, :, None, :]
        k = torch.einsum("ntd,hde->nhte", x, self.W_K) + self.b_K[None, :, None, :]
        v = torch.einsum("ntd,hde->nhte", x, self.W_V) + self.b_V[None, :, None, :]
        scores = torch.einsum("nhqe,nhke->nhqk", q, k) / math.sqrt(self.d_head)
        allowed = key_mask[:, None, None, :]
        if self.causal:  # query t sees keys <= t (itself always, so no row is empty)
            T = x.shape[1]
            allowed = allowed & torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
        pattern = scores.softmax(dim=-1)
        z = torch.einsum("nhqk,nhke->nhqe", pattern, v)
        return torch.einsum("nhqe,hed->nqd", z, self.W_O) + self.b_O, pattern


class MLP(nn.Module):
    def __init__(self, d_model: int, d_mlp: int):
        super().__init__()
        self.W_in = nn.Parameter(torch.randn(d_model, d_mlp) / math.sqrt(d_model))
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = nn.Parameter(torch.randn(d_mlp, d_model) / math.sqrt(d_mlp))
        self.b_out = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x @ self.W_in + self.b_in) @ self.W_out + self.b_out


class ParensBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_head: int, d_mlp: int, causal: bool = False):
        super().__init__()
        self.ln1 = LayerNorm(d_model)
        self.attn = BidirectionalAttention(d_model, n_heads, d_head, causal)
        self.ln2 = LayerNorm(d_model) if d_mlp else None
        self.mlp = MLP(d_model, d_mlp) if d_mlp else None

    def forward(self, x: Tensor, key_mask: Tensor) -> tuple[Tensor, Tensor]:
        out, pattern = self.attn(self.ln1(x), key_mask)
        x = x + out
        if self.mlp is not None:
            x = x + self.mlp(self.ln2(x))
        return x, pattern


class ParensTransformer(nn.Module):
    """Transformer classifier; logits ``[n, classes]`` read at the CLS position 0 (bidirectional) or
    at the last real token (``causal``: each position sees only its prefix, as in a decoder
    "miniGPT"; the prefix depth is then one uniform attention away, which makes the NESTED rule
    reachable, while a bidirectional model almost always learns EQUAL-COUNT).

    Args:
        vocab: token vocabulary (4 for the parentheses data: pad, "(", ")", CLS).
        d_model: residual stream width.
        n_layers: number of blocks.
        n_heads: attention heads per block.
        d_mlp: MLP hidden width; 0 means attention only.
        context: maximum sequence length.
        classes: number of output classes.
        seed: initialisation seed.
        causal: attend only to earlier positions and read the class at the last real token.
    """

    task = "classify"

    def __init__(self, vocab: int = 4, d_model: int = 32, n_layers: int = 2, n_heads: int = 4,
                 d_mlp: int = 64, context: int = 32, classes: int = 2, seed: int | None = 0,
                 causal: bool = False):
        super().__init__()
        d_head = max(1, d_model // n_heads)
        self.config = dict(vocab=vocab, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                           d_mlp=d_mlp, context=context, classes=classes, causal=causal)
        self.causal = causal
        self.n_layers, self.n_heads, self.d_head, self.context = n_layers, n_heads, d_head, context
        # initialise from `seed` without touching the caller's random stream
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.embed = Embed(vocab, d_model)
            self.pos_embed = PosEmbed(context, d_model)
            self.blocks = nn.ModuleList(ParensBlock(d_model, n_heads, d_head, d_mlp, causal)
                                        for _ in range(n_layers))
            self.ln_final = LayerNorm(d_model)
            self.unembed = Unembed(d_model, classes)

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """tokens [n, T] -> logits [n, classes] (and attention [layers, n, H, T, T])."""
        T = tokens.shape[-1]
        if T > self.context:
            raise PatRuntimeError("model", f"sequence length {T} exceeds the model context "
                                  f"{self.context}", "give the model a context at least as long "
                                  "as the data's sequences (or shorten the data)")
        key_mask = tokens != PAD
        x = self.embed.W_E[tokens] + self.pos_embed.W_pos[:T]
        patterns = []
        for block in self.blocks:
            x, pattern = block(x, key_mask)
            patterns.append(pattern)
        if self.causal:  # the last real token (padding is on the right)
            last = (key_mask.sum(-1) - 1).clamp_min(0)
            read = x.gather(1, last[:, None, None].expand(-1, 1, x.shape[-1]))[:, 0]
        else:
            read = x[:, 0]
        logits = self.ln_final(read) @ self.unembed.W_U + self.unembed.b_U
        if return_attention:
            return logits, torch.stack(patterns)
        return logits

    def head_parameters(self, layer: int, head: int) -> dict[str, tuple]:
        """Parameter names and index tuples owned by head ``head`` of layer ``layer``."""
        return head_slices(self.n_layers, self.n_heads, layer, head)


@primitive("model", task="classify")
def parens_transformer(layers: Annotated[int, Range(ge=1)] = 2,
                       heads: Annotated[int, Range(ge=1)] = 4,
                       d_model: Annotated[int, Range(ge=2)] = 32,
                       context: Annotated[int, Range(ge=3)] = 32,
                       mlp: Annotated[int, Range(ge=0)] = 64, seed: int = 0,
                       causal: bool = False) -> ParensTransformer:
    """A small bidirectional transformer classifier for parentheses strings (2 classes at CLS).

    Args:
        layers: number of transformer blocks.
        heads: attention heads per block.
        d_model: residual stream width.
        context: maximum sequence length (CLS + brackets + padding).
        mlp: MLP hidden width per block; 0 means attention only.
        seed: initialisation seed.
        causal: decoder-style attention to the prefix only, class read at the last real token.
    """
    return ParensTransformer(vocab=4, d_model=d_model, n_layers=layers, n_heads=heads, d_mlp=mlp,
                             context=context, seed=seed, causal=causal)

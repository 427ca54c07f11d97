"""Test helpers: a minimal data component and a hand-built attention-only transformer."""

from __future__ import annotations

import math

import torch

from patternlang.models.attn_only import AttnOnlyTransformer


class UniformTokens:
    """Minimal ``DataComponent``: uniform random token sequences (until the data branch lands)."""

    task = "lm"

    def __init__(self, name: str, vocab: int, length: int, lo: int = 0):
        self.name, self.vocab_size, self.seq_len, self.lo = name, vocab, length, lo

    def sample(self, n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        return {"tokens": torch.randint(self.lo, self.vocab_size, (n, self.seq_len), generator=g)}


V, T, H = 24, 32, 3
D_HEAD = V + T


def hand_built(strength: float = 30.0, seed: int = 0) -> AttnOnlyTransformer:
    """2 layers x 3 heads; residual = [token one-hot (V) | position one-hot (T) | previous token (V)].

    * l0h0: exact previous-token head (query pos i, key pos j, score s·[j = i−1]); copies the token
      into the "previous token" subspace.
    * l0h1: exact duplicate-token head (same token, not itself); writes nothing.
    * l1h0: exact induction head: query = current token, key = previous token of j, so it attends
      to the position right after the earlier occurrence; key position 0 is pushed away (its
      "previous token" is its own token, the l0h0 head having nowhere else to look).
    * l0h2, l1h1, l1h2: small random query/key weights (near-uniform attention), no output.
    """
    m = AttnOnlyTransformer(vocab=V, d_model=2 * V + T, n_layers=2, n_heads=H, d_head=D_HEAD,
                            context=T, seed=seed)
    s = strength * math.sqrt(D_HEAD)
    tok, pos, prev = 0, V, V + T
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.embed.W_E[:, tok:tok + V] = torch.eye(V)
        m.pos_embed.W_pos[:, pos:pos + T] = torch.eye(T)
        a0, a1 = m.blocks[0].attn, m.blocks[1].attn
        for i in range(T):  # l0h0 previous token
            a0.W_Q[0, pos + i, i] = s
            if i + 1 < T:
                a0.W_K[0, pos + i, i + 1] = 1.0
        for v in range(V):
            a0.W_V[0, tok + v, v] = 1.0
            a0.W_O[0, v, prev + v] = 1.0
        for v in range(V):  # l0h1 duplicate token
            a0.W_Q[1, tok + v, v] = s
            a0.W_K[1, tok + v, v] = 1.0
        for i in range(T):
            a0.W_Q[1, pos + i, V + i] = -s
            a0.W_K[1, pos + i, V + i] = 1.0
        for v in range(V):  # l1h0 induction
            a1.W_Q[0, tok + v, v] = s
            a1.W_K[0, prev + v, v] = 1.0
        a1.b_Q[0, V] = -s
        a1.W_K[0, pos + 0, V] = 1.0
        for attn, h in ((a0, 2), (a1, 1), (a1, 2)):
            attn.W_Q[h] = 0.1 * torch.randn(2 * V + T, D_HEAD, generator=g)
            attn.W_K[h] = 0.1 * torch.randn(2 * V + T, D_HEAD, generator=g)
        m.unembed.W_U[prev:prev + V] = torch.eye(V)  # predicts "the token before": any logits do
    return m

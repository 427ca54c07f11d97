"""Deep linear networks: Aoyagi's learning coefficient and a known-answer toy for the LLC.

A deep linear network (DLN) with layer widths ``H_1, ..., H_{N+1}`` (H_1 the input, H_{N+1} the
output) computes ``f(x) = W_N ⋯ W_1 x`` with ``W_i: H_{i+1} × H_i``. When the true map has rank r,
Aoyagi (2024, "Consideration on the learning efficiency of multiple-layered neural networks with
linear units", Neural Networks 172; used as ground truth by Lau et al. arXiv 2308.12108 and by
Hitchcock & Hoogland arXiv 2507.21449) gives its learning coefficient. With ``M_i = H_i - r``,
take the subset Σ of indices, of size ℓ + 1, with

    max_{σ∈Σ} M_σ < min_{k∉Σ} M_k,   Σ_{σ∈Σ} M_σ ≥ ℓ·max_{σ∈Σ} M_σ,   Σ_{σ∈Σ} M_σ < ℓ·min_{k∉Σ} M_k

(it exists and is unique); with S = Σ_{σ∈Σ} M_σ, m = ⌈S/ℓ⌉ and a = S - (m - 1)ℓ (1 ≤ a ≤ ℓ),

    λ = (-r² + r(H_1 + H_{N+1}))/2 + a(ℓ - a)/(4ℓ) - ℓ(ℓ - 1)/4·(S/ℓ)² + ½ Σ_{i<j ∈ Σ} M_i M_j.

The first condition makes Σ the ℓ + 1 smallest M's (ties may not straddle the cut), so the search
runs over prefixes of the sorted list. Checks in ``tests/testing/test_dln.py``: one hidden layer is
reduced-rank regression (Aoyagi & Watanabe 2005, :func:`~patternlang.testing.toy_models.rrr_llc`);
one layer and the maximal-rank case are regular, λ = (dimension of the rank-r matrices)/2.

:class:`DeepLinearNetwork` samples around a true parameter of rank r with the population loss
``L(w) = ½‖W_N ⋯ W_1 - P₀‖²_F`` (inputs x ~ N(0, I); the noise term, a constant, dropped), so nβ is
a free knob with no data noise and any width costs only the matrix products.
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence
from fractions import Fraction

import torch
from torch import Tensor, nn

from patternlang.engine.sampler.sgld import chain_batched

__all__ = ["dln_llc", "dln_subset", "DeepLinearNetwork"]


def dln_subset(widths: Sequence[int], rank: int) -> list[int]:
    """Indices (into ``widths``) of Aoyagi's subset Σ for widths ``H_1..H_{N+1}`` and true rank r."""
    M = [int(h) - int(rank) for h in widths]
    order = sorted(range(len(M)), key=lambda i: M[i])
    for size in range(2, len(M) + 1):
        inside, outside = [M[i] for i in order[:size]], [M[i] for i in order[size:]]
        ell, total = size - 1, sum(inside)
        if outside and not max(inside) < min(outside):
            continue
        if total >= ell * max(inside) and (not outside or total < ell * min(outside)):
            return sorted(order[:size])
    raise ValueError(f"no admissible subset for widths {list(widths)} and rank {rank}")


def dln_llc(widths: Sequence[int], rank: int = 0) -> float:
    """Aoyagi's learning coefficient of a DLN with widths ``[in, hidden..., out]`` at true rank r."""
    widths = [int(h) for h in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must list at least an input and an output width >= 1, got {widths}")
    if not 0 <= rank <= min(widths):
        raise ValueError(f"rank must be between 0 and the smallest width {min(widths)}, got {rank}")
    M = [h - rank for h in widths]
    sub = [M[i] for i in dln_subset(widths, rank)]
    ell, S = len(sub) - 1, sum(sub)
    m = math.ceil(S / ell)
    a = S - (m - 1) * ell
    pairs = sum(sub[i] * sub[j] for i in range(len(sub)) for j in range(i + 1, len(sub)))
    lam = Fraction(-rank ** 2 + rank * (widths[0] + widths[-1]), 2)  # exact rational arithmetic
    lam += Fraction(a * (ell - a), 4 * ell) - Fraction(ell * (ell - 1), 4) * Fraction(S, ell) ** 2
    return float(lam + Fraction(pairs, 2))


def _gaussian(rows: int, cols: int, g: torch.Generator) -> Tensor:
    """Entries N(0, 1/cols): singular values spread over about [0, 2] (for square matrices)."""
    return torch.randn(rows, cols, generator=g) / math.sqrt(max(cols, 1))


def _orthogonal(rows: int, cols: int, g: torch.Generator) -> Tensor:
    """A random matrix with every singular value 1 (orthonormal rows or columns)."""
    q, r = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=g))
    q = q * torch.sign(torch.diagonal(r))  # Haar-distributed
    return q if rows >= cols else q.T


class DeepLinearNetwork(nn.Module):
    """A DLN localized at a true parameter w₀ whose product P₀ has rank ``rank``.

    Parameters ``w0 ... w{N-1}`` (``w{i}``: ``H_{i+1} × H_i``). With ``center="gaussian"`` the
    center's layers are Gaussian with variance 1/H_i (so the product has O(1) entries), the first
    one cut to rank r as U·V; the product of N such layers has singular values up to ~2^N, which
    makes the steepest loss directions that much steeper than the rest. ``center="orthogonal"``
    takes every factor with all singular values 1 (Haar-random): the same λ (Aoyagi's formula
    depends only on the widths and the rank), a well-conditioned center. The batch is P₀ itself
    (one "sample"): :attr:`batched_loss` returns ``½‖W_N⋯W_1 - P₀‖²`` as ``[C, 1]``; pass ``nbeta``
    to the sampler explicitly (the batch size is 1).
    """

    def __init__(self, widths: Sequence[int], rank: int, seed: int = 0, center: str = "gaussian"):
        super().__init__()
        self.widths, self.rank = [int(h) for h in widths], int(rank)
        self.true_llc = dln_llc(self.widths, self.rank)
        if center not in ("gaussian", "orthogonal"):
            raise ValueError(f"center must be 'gaussian' or 'orthogonal', got {center!r}")
        g = torch.Generator().manual_seed(seed)
        draw = _orthogonal if center == "orthogonal" else _gaussian
        layers = []
        for i, (h_in, h_out) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            if i == 0:
                layers.append(draw(h_out, self.rank, g) @ draw(self.rank, h_in, g))
            else:
                layers.append(draw(h_out, h_in, g))
        for i, w in enumerate(layers):
            setattr(self, f"w{i}", nn.Parameter(w.clone()))
        self._center = {f"w{i}": w.clone() for i, w in enumerate(layers)}
        self.data = {"target": self.product([w[None] for w in layers])[0].detach()[None]}

        @chain_batched
        def batched_loss(params: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
            P = self.product([params[f"w{i}"] for i in range(len(self.widths) - 1)])  # [C, out, in]
            return 0.5 * ((P - batch["target"][:, 0]) ** 2).sum((-2, -1))[:, None]

        self.batched_loss = batched_loss

    @property
    def num_params(self) -> int:
        return sum(a * b for a, b in zip(self.widths[:-1], self.widths[1:]))

    @staticmethod
    def product(layers: Sequence[Tensor]) -> Tensor:
        """W_N ⋯ W_1 for layers with a leading chain dim."""
        P = layers[0]
        for w in layers[1:]:
            P = w @ P
        return P

    def center(self) -> dict[str, Tensor]:
        return {k: v.clone() for k, v in self._center.items()}

    def batch_fn(self, chain: int, step: int, g: torch.Generator) -> dict[str, Tensor]:
        return self.data

    @staticmethod
    def loss_fn(model: Any, batch: dict[str, Tensor]) -> Tensor:
        P = model.product([getattr(model, f"w{i}") for i in range(len(model.widths) - 1)])
        return 0.5 * ((P - batch["target"][0]) ** 2).sum().reshape(1)

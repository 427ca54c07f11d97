"""Known-answer models for the LLC: Gaussian (regular), normal crossing, reduced-rank regression.

Each toy is an ``nn.Module`` with

* ``loss_fn(model, batch) -> Tensor[n]`` (the generic, vmapped path of the sampler),
* ``batched_loss(params, batch) -> Tensor[C, n]`` written directly in chain-batched form (marked with
  :func:`~patternlang.engine.sampler.sgld.chain_batched`; no ``vmap`` overhead, for speed),
* ``batch_fn(chain, step, g)`` returning ONE full-batch dict shared by all chains,
* ``center()``: the point w* to localize at, and ``true_llc``: the known learning coefficient.

Ground truths (reference/patterning-method.md §6):

* Gaussian ``L = ½ wᵀHw`` with localization γ at 0: λ̂ = ½ Σ nβh_i/(nβh_i + γ) over eigenvalues h_i.
* Normal crossing ``f(x; w) = x·Π w_i^{k_i}`` with y pure noise: λ = min over k_i > 0 of 1/(2k_i),
  multiplicity m = #{i attaining it}. With m = 2 the finite-nβ expectation is below λ by
  ≈ 1/(log nβ + const) (a property of the posterior, not of the sampler);
  :func:`normal_crossing_exact` computes the finite-nβ value by quadrature.
* Reduced-rank regression ``y = B A x`` (A: H×M, B: N×H) with true rank r: Aoyagi & Watanabe (2005).
"""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from patternlang.engine.sampler.sgld import chain_batched

Batch = dict[str, Tensor]


def rrr_llc(M: int, H: int, N: int, r: int = 0) -> float:
    """Aoyagi-Watanabe learning coefficient of reduced-rank regression (M in, H hidden, N out)."""
    if N + r > M + H:  # case 2: M + H < N + r
        return (H * M - H * r + N * r) / 2
    if M + r > N + H:  # case 3: N + H < M + r
        return (H * N - H * r + M * r) / 2
    if H + r > M + N:  # case 4: M + N < H + r
        return M * N / 2
    base = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    return (base + ((M + H + N + r) % 2)) / 8


class _Toy(nn.Module):
    """Shared plumbing: a fixed dataset and a batch_fn that hands every chain the same full batch."""

    true_llc: float

    def _set_data(self, **tensors: Tensor) -> None:
        self.data = dict(tensors)

    def batch_fn(self, chain: int, step: int, g: torch.Generator) -> Batch:
        return self.data

    def center(self) -> dict[str, Tensor]:
        return {n: torch.zeros_like(p) for n, p in self.named_parameters()}


class GaussianToy(_Toy):
    """``L(w) = ½ wᵀHw`` (no data: every sample's loss is the same quadratic)."""

    H: Tensor  # a buffer

    def __init__(self, hessian: Sequence[float] | Tensor, n: int = 32):
        super().__init__()
        H = torch.as_tensor(hessian, dtype=torch.float32)
        H = torch.diag(H) if H.dim() == 1 else H
        self.register_buffer("H", H)
        self.w = nn.Parameter(torch.zeros(H.shape[0]))
        self._set_data(x=torch.zeros(n, 1))

        @chain_batched
        def batched_loss(params: dict[str, Tensor], batch: Batch) -> Tensor:
            w = params["w"]
            q = 0.5 * torch.einsum("ci,ij,cj->c", w, self.H, w)
            return q[:, None].expand(-1, batch["x"].shape[1])

        self.batched_loss = batched_loss

    def forward(self, x: Tensor) -> Tensor:
        return (0.5 * self.w @ self.H @ self.w).expand(x.shape[0])

    @staticmethod
    def loss_fn(model: nn.Module, batch: Batch) -> Tensor:
        return model(batch["x"])

    def expected_llc(self, nbeta: float, gamma: float) -> float:
        """½ Σ nβh_i/(nβh_i + γ) over the eigenvalues h_i of H."""
        h = torch.linalg.eigvalsh(self.H.double()).clamp_min(0)
        return float(0.5 * (nbeta * h / (nbeta * h + gamma)).sum())


class NormalCrossing(_Toy):
    """``f(x; w) = x·Π w_i^{k_i}``, data x ~ N(0, 2²), y = 0.25·N(0, 1); loss ½(y - f)².

    The full-batch loss depends on the data only through the moments Sxx = mean x², Sxy = mean xy,
    Syy = mean y²: L(w) = ½Syy - p·Sxy + ½p²·Sxx with p = Π w_i^{k_i}. With ``sufficient_stats=True``
    the batch is those three moments and :attr:`batched_loss` returns that exact full-batch loss as one
    "sample" (``[C, 1]``), so a large n (small finite-nβ bias) costs nothing per step; pass
    ``nbeta=toy.nbeta`` (n / log n) to the sampler then, as the batch size is 1.
    """

    def __init__(self, powers: Sequence[int], n: int = 1000, seed: int = 42, sufficient_stats: bool = False):
        super().__init__()
        self.powers = [int(k) for k in powers]
        self.w = nn.Parameter(torch.zeros(len(powers)))
        g = torch.Generator().manual_seed(seed)
        x = 2.0 * torch.randn(n, generator=g, dtype=torch.float64)
        y = 0.25 * torch.randn(n, generator=g, dtype=torch.float64)
        self.stats = {k: float(v.mean()) for k, v in (("sxx", x * x), ("sxy", x * y), ("syy", y * y))}
        self.n, self.nbeta = n, n / math.log(n)
        if sufficient_stats:
            self._set_data(**{k: torch.tensor([v]) for k, v in self.stats.items()})
        else:
            self._set_data(x=x.float(), y=y.float())
        self.true_llc = min(1 / (2 * k) for k in powers if k > 0)
        self.multiplicity = sum(1 for k in powers if k > 0 and 1 / (2 * k) == self.true_llc)

        @chain_batched
        def batched_loss(params: dict[str, Tensor], batch: Batch) -> Tensor:
            p = self.monomial(params["w"])[:, None]  # [C, 1]
            if "sxx" in batch:
                return 0.5 * batch["syy"] - p * batch["sxy"] + 0.5 * p * p * batch["sxx"]
            return 0.5 * (batch["y"] - batch["x"] * p) ** 2

        self.batched_loss = batched_loss

    def monomial(self, w: Tensor) -> Tensor:
        """Π w_i^{k_i} over the last dim (integer powers; k_i = 0 skipped so gradients stay finite)."""
        p = torch.ones_like(w[..., 0])
        for i, k in enumerate(self.powers):
            if k:
                p = p * w[..., i] ** k
        return p

    def forward(self, x: Tensor) -> Tensor:
        return x * self.monomial(self.w)

    @staticmethod
    def loss_fn(model: Any, batch: Batch) -> Tensor:
        if "sxx" in batch:
            p = model.monomial(model.w)
            return 0.5 * batch["syy"] - p * batch["sxy"] + 0.5 * p * p * batch["sxx"]
        return 0.5 * (batch["y"] - model(batch["x"])) ** 2


def normal_crossing_exact(model: NormalCrossing, nbeta: float, gamma: float, points: int = 1201) -> float:
    """E_p[nβ(L(w) - L(0))] under p ∝ exp(-nβL - γ|w|²/2), by quadrature (2 coordinates at most).

    The loss depends on w only through p = Π w_i^{k_i}: L(p) - L(0) = -p·Sxy + ½p²·Sxx. A
    sinh-spaced grid resolves both the O(nβ^{-1/2k}) core and the O(γ^{-1/2}) tails.
    """
    k = model.powers
    if len(k) > 2:
        raise ValueError("quadrature is implemented for at most 2 coordinates")
    sxy, sxx = model.stats["sxy"], model.stats["sxx"]
    R = 8.0 / math.sqrt(gamma)
    u = np.linspace(-1, 1, points)
    s = 1e-4
    grid = np.sinh(u * math.asinh(R / s)) * s
    wts = np.gradient(grid)
    mesh = np.meshgrid(*([grid] * len(k)), indexing="ij")
    wmesh = np.meshgrid(*([wts] * len(k)), indexing="ij")
    p = np.prod([m ** kk for m, kk in zip(mesh, k)], axis=0)
    dL = -p * sxy + 0.5 * p * p * sxx
    logw = -nbeta * dL - 0.5 * gamma * sum(m * m for m in mesh) + sum(np.log(m) for m in wmesh)
    dens = np.exp(logw - logw.max())
    return float(nbeta * (dens * dL).sum() / dens.sum())


class ReducedRankRegression(_Toy):
    """``y = B A x`` (A: H×M, B: N×H); data x ~ N(0, I_M), y ~ N(0, I_N) (true rank 0); loss ½‖y - BAx‖².

    With W = (BA)ᵀ the full-batch loss is ½tr Syy - tr(WᵀSxy) + ½tr(WᵀSxxW) in the moments
    Sxx = XᵀX/n, Sxy = XᵀY/n, Syy = YᵀY/n. ``sufficient_stats=True`` makes the batch those moments and
    :attr:`batched_loss` that exact full-batch loss as one "sample" (``[C, 1]``): any n costs the same
    per step; pass ``nbeta=toy.nbeta`` (n / log n) to the sampler then, as the batch size is 1.
    """

    def __init__(self, M: int, H: int, N: int, n: int = 1000, seed: int = 42, sufficient_stats: bool = False):
        super().__init__()
        self.A = nn.Parameter(torch.zeros(H, M))
        self.B = nn.Parameter(torch.zeros(N, H))
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, M, generator=g, dtype=torch.float64)
        y = torch.randn(n, N, generator=g, dtype=torch.float64)
        self.stats = {"sxx": (x.T @ x / n).float(), "sxy": (x.T @ y / n).float(),
                      "syy": (y * y).sum(1).mean().reshape(1).float()}
        self.n, self.nbeta = n, n / math.log(n)
        if sufficient_stats:
            self._set_data(**self.stats)
        else:
            self._set_data(x=x.float(), y=y.float())
        self.true_llc = rrr_llc(M, H, N, 0)

        @chain_batched
        def batched_loss(params: dict[str, Tensor], batch: Batch) -> Tensor:
            W = params["A"].transpose(1, 2) @ params["B"].transpose(1, 2)  # [C, M, N]
            if "sxx" in batch:
                return _moment_loss(W, batch)[:, None]
            pred = batch["x"] @ W
            return 0.5 * ((batch["y"] - pred) ** 2).sum(-1)

        self.batched_loss = batched_loss

    def fit_center(self, seed: int = 42, steps: int = 5000, lr: float = 0.01) -> dict[str, Tensor]:
        """An empirical minimum reached by Adam from a seeded random init (devinterp's protocol).

        Localizing at the origin instead measures from the true parameter, the reference point of
        the asymptotic formula nβ(E L - L(w0)) -> λ; the empirical minimum sits below it by
        O(dim/n), which adds a positive O(dim·β) to the estimate at finite n.
        """
        g = torch.Generator().manual_seed(seed)
        H, M = self.A.shape
        N = self.B.shape[0]
        A = (torch.rand(H, M, generator=g) * 2 - 1) / math.sqrt(M)
        B = (torch.rand(N, H, generator=g) * 2 - 1) / math.sqrt(H)
        A.requires_grad_(True)
        B.requires_grad_(True)
        opt = torch.optim.Adam([A, B], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            _moment_loss((A.T @ B.T)[None], self.stats).sum().backward()
            opt.step()
        return {"A": A.detach().clone(), "B": B.detach().clone()}

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.A.T @ self.B.T

    @staticmethod
    def loss_fn(model: Any, batch: Batch) -> Tensor:
        if "sxx" in batch:
            return _moment_loss((model.A.T @ model.B.T)[None], batch)
        return 0.5 * ((batch["y"] - model(batch["x"])) ** 2).sum(-1)


def _moment_loss(W: Tensor, stats: Batch) -> Tensor:
    """½tr Syy - tr(WᵀSxy) + ½tr(WᵀSxxW) for W: [C, M, N] -> [C] (the full-batch RRR loss)."""
    cross = (W * stats["sxy"]).sum((-2, -1))
    quad = (W * (stats["sxx"] @ W)).sum((-2, -1))
    return 0.5 * stats["syy"].reshape(W.shape[:-2]) - cross + 0.5 * quad

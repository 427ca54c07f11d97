"""SGLD with a diagonal preconditioner fixed at the center (``preconditioner = fixed``).

The update, on every chain at once (d is plain SGLD's drift, localization included)::

    d    = nβ·∇L_B(w) + γ·(w - w*)
    G    = 1 / (|d₀| + δ·mean|d₀|),  G <- G / mean(G)     once, from d₀ = d at the first step
    Δw   = -(ε/2)·G·d + sqrt(ε·G)·ξ

G is computed from the chain's first step, taken at the center w* (so d₀ = nβ·∇L_B(w*) on the
chain's first minibatch), and never changes: the preconditioner is position-independent. With a
constant G, drift and noise scaled alike leave the stationary law p(w) ∝ exp(-nβL(w) - γ‖w - w*‖²/2)
unchanged at every step, burn-in included; on a quadratic loss the discrete chain's stationary law
is known in closed form (coordinate i with curvature k_i = nβh_i + γ has variance
1 / (k_i·(1 - εG_ik_i/4))), which ``tests/engine/sampler/test_fixed_diag.py`` checks. It is the
limit of ``rmsprop`` whose adaptation stops after one step: no position dependence, at the price of
a preconditioner estimated from one minibatch gradient. At an exact minimum of a full-batch loss
d₀ = 0 and G = 1 (plain SGLD). δ = :data:`FLOOR` bounds the spread of G to about 1/δ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from patternlang.engine.sampler.rmsprop import PreconditionedUpdate, normalized_inverse

FLOOR = 0.01  # δ: the floor of |d₀| relative to its mean


class FixedDiagUpdate(PreconditionedUpdate):
    """One step with a diagonal G fixed at the first step (an :class:`~.updates.UpdateRule`)."""

    def __init__(self, cfg: Any, nbeta: float, center: Tensor, index: Tensor | None,
                 gens: Sequence[torch.Generator], C: int):
        self.eps, self.gamma, self.nbeta = float(cfg.step_size), float(cfg.gamma), nbeta
        self.index, self.gens = index, gens
        self.center = center if index is None else center[index]
        width = center.numel() if index is None else index.numel()
        self.noise = torch.empty(C, width, dtype=center.dtype, device=center.device)
        self.G: Tensor | None = None  # [C, width], set at the first step
        self.alive: Tensor | None = None

    def state(self) -> dict[str, Any]:
        return {} if self.G is None else {"G": self.G.cpu().numpy().copy()}

    def load_state(self, state: dict[str, Any]) -> None:
        if "G" in state:
            self.G = torch.as_tensor(state["G"], dtype=self.noise.dtype, device=self.noise.device).clone()

    @staticmethod
    def preconditioner(drift: Tensor) -> Tensor:
        """G from the drift at the center: 1 / (|d| + δ·mean|d|), normalized to mean 1 per chain."""
        return normalized_inverse(drift.abs(), FLOOR)

    def current_G(self, drift: Tensor) -> Tensor:
        """G from the first step's drift, then the same G at every step."""
        if self.G is None:
            self.G = self.preconditioner(drift)
        return self.G

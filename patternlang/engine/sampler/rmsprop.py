"""RMSProp-preconditioned SGLD (``SGLDConfig(preconditioner="rmsprop")``).

The update (pSGLD, Li et al. 2016; devinterp's ``RMSPropSGLD``; the most accurate sampler on deep
linear networks in Hitchcock & Hoogland, arXiv 2507.21449), on every chain at once::

    d    = nβ·∇L_B(w) + γ·(w - w*)                    the drift of plain SGLD, localization included
    V   <- α·V + (1 - α)·d²                            running mean of its square (per coordinate)
    s    = sqrt(V / (1 - α^t))                         bias-corrected RMS
    G    = 1 / (s + δ·mean(s)),  G <- G / mean(G)      diagonal preconditioner, mean 1 per chain
    Δw   = -(ε/2)·G·d + sqrt(ε·G)·ξ                    drift and noise scaled by the same G

G adapts during burn-in only and is frozen from the first kept draw on (adaptation during warm-up,
as in Stan): with a fixed G, drift and noise scaled alike leave the stationary law
p(w) ∝ exp(-nβL(w) - γ‖w - w*‖²/2) unchanged, with no Γ correction to drop. (pSGLD and devinterp
keep adapting; measured on reduced-rank regression (5, 3, 5), that made λ̂ 15-40 % high, against
10 % for plain SGLD, because G then correlates with the current position.) Without burn-in G stays 1.
Three choices differ from devinterp: the freeze, and, so that ε keeps the meaning it has for plain
SGLD (and ``step = auto`` scans one grid for both): V tracks the whole drift d (so coordinates
whose loss gradient is zero are still preconditioned by their localization term, and a chain
started at an exact minimum is plain SGLD at its first step), and G is normalized to mean 1 per
chain, with the floor δ (``rmsprop_floor``, relative to the mean RMS) bounding the spread of G.
The preconditioner thus only redistributes the step across coordinates: stiff ones (large RMS
drift) move less, flat ones more, which is what lets the largest stable ε grow.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from patternlang.engine.sampler.restrict import apply_delta


def normalized_inverse(size: Tensor, floor: float) -> Tensor:
    """G = 1 / (size + floor·mean(size)), normalized to mean 1 per chain (in place on ``size``);
    an all-zero ``size`` gives G = 1."""
    f = floor * size.mean(dim=1, keepdim=True).clamp_min(1e-20)
    G = size.add_(f).reciprocal_()
    return G.div_(G.mean(dim=1, keepdim=True))


class PreconditionedUpdate(ABC):
    """The step every diagonal preconditioner shares, on ``flat [C, P]`` (or only on the
    coordinates ``index``): fresh noise ξ, the drift d = nβ·∇L_B(w) + γ·(w - w*), then
    Δw = -(ε/2)·G·d + sqrt(ε·G)·ξ with G from :meth:`current_G`."""

    eps: float
    gamma: float
    nbeta: float
    index: Tensor | None
    gens: Sequence[torch.Generator]
    center: Tensor
    noise: Tensor
    alive: Tensor | None

    @abstractmethod
    def current_G(self, drift: Tensor) -> Tensor:
        """This step's preconditioner [C, width] (mean 1 per chain)."""

    def __call__(self, flat: Tensor, grad: Tensor) -> None:
        for i, g in enumerate(self.gens):
            self.noise[i].normal_(generator=g)
        w = flat if self.index is None else flat[:, self.index]
        drift = grad if self.index is None else grad[:, self.index]
        drift.mul_(self.nbeta).add_(w - self.center, alpha=self.gamma)
        G = self.current_G(drift)
        self.noise.mul_(G.sqrt().mul_(math.sqrt(self.eps))).addcmul_(G, drift, value=-self.eps / 2)
        apply_delta(flat, self.noise, self.index, self.alive)


class RMSPropUpdate(PreconditionedUpdate):
    """One step with G from a running RMS of the drift (adapted during burn-in)."""

    def __init__(self, cfg: Any, nbeta: float, center: Tensor, index: Tensor | None,
                 gens: Sequence[torch.Generator], C: int):
        self.eps, self.gamma, self.nbeta = cfg.step_size, float(cfg.gamma), nbeta
        self.alpha, self.floor = float(cfg.rmsprop_alpha), float(cfg.rmsprop_floor)
        self.index, self.gens = index, gens
        self.center = center if index is None else center[index]
        width = center.numel() if index is None else index.numel()
        self.noise = torch.empty(C, width, dtype=center.dtype, device=center.device)
        self.square = torch.zeros(C, width, dtype=center.dtype, device=center.device)
        self.t, self.adapt = 0, int(cfg.burnin)
        self.G: Tensor = torch.ones(C, width, dtype=center.dtype, device=center.device)
        self.alive: Tensor | None = None  # [C, 1] of 0/1 once a chain has been dropped

    def state(self) -> dict[str, Any]:
        """What a continued run needs: the running square, the (frozen) G and the step count."""
        return {"square": self.square.cpu().numpy().copy(), "G": self.G.cpu().numpy().copy(),
                "t": self.t}

    def load_state(self, state: dict[str, Any]) -> None:
        dev, dtype = self.square.device, self.square.dtype
        self.square = torch.as_tensor(state["square"], dtype=dtype, device=dev).clone()
        self.G = torch.as_tensor(state["G"], dtype=dtype, device=dev).clone()
        self.t = int(state["t"])

    def preconditioner(self, drift: Tensor) -> Tensor:
        """Update the running square of ``drift`` and return G (mean 1 per chain)."""
        self.t += 1
        self.square.mul_(self.alpha).addcmul_(drift, drift, value=1.0 - self.alpha)
        rms = (self.square / (1.0 - self.alpha ** self.t)).sqrt_()
        return normalized_inverse(rms, self.floor)


    def current_G(self, drift: Tensor) -> Tensor:
        """G adapted from ``drift`` during burn-in, frozen after it."""
        self.G = self.preconditioner(drift) if self.t < self.adapt else self.G
        return self.G

"""Paired finite differences: a direct check of χ by re-sampling under a shifted mixture.

Linear response says that moving the mixture toward component k,

    h' = (1 − δ)·h + δ·e_k     (so L_{h'} = L_h + δ·(L_k − L_h) exactly),

moves every posterior mean by Δ⟨φ⟩ ≈ δ·nβ·χ_{φ,k}. δ is the *shift* of the mixture, the same δ
as the coupled estimator's (``coupled(delta=...)``); ε is only ever the SGLD step. This module measures Δ⟨φ⟩ by sampling twice
with the *same random numbers* (same seed, same chains, same minibatches and noise), once under h
and once under h'. The two runs then share almost all of their Monte Carlo error, and the
per-chain difference of means is far less noisy than either mean — a paired estimator.

With ``central=True`` (when the weights allow it) a third run at h'' = (1 + δ)·h − δ·e_k gives the
central difference (⟨φ⟩_{h'} − ⟨φ⟩_{h''}) / 2, whose bias is O(δ²) instead of O(δ).

The sampler is passed in as a function, so this works with any sampler (the engine's SGLD, an
exact sampler in a test): ``sample(weights) -> observations[C, draws, M]``, and it must use the
same seed on every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np

from patternlang.errors import PatRuntimeError

SampleFn = Callable[[Mapping[str, float]], "np.ndarray"]


@dataclass
class FiniteDifference:
    """Finite-difference response of each observable to component ``component``.

    ``change[m]`` is Δ⟨φ_m⟩ for the shift δ; ``chi_fd = change / (δ·nβ)`` is directly comparable
    with χ[:, component], with standard errors over chains."""

    component: str
    delta: float
    nbeta: float
    central: bool
    obs_names: list[str]
    change: np.ndarray
    change_se: np.ndarray

    @property
    def chi_fd(self) -> np.ndarray:
        return self.change / (self.delta * self.nbeta)

    @property
    def chi_fd_se(self) -> np.ndarray:
        return self.change_se / (self.delta * self.nbeta)

    def zscores(self, chi: np.ndarray, chi_se: np.ndarray) -> np.ndarray:
        """(χ_fd − χ) / combined standard error, per observable: |z| ≲ 3 means they agree."""
        err = np.sqrt(self.chi_fd_se ** 2 + np.asarray(chi_se) ** 2)
        return (self.chi_fd - np.asarray(chi)) / np.where(err > 0, err, np.inf)


def shifted_weights(weights: Mapping[str, float], component: str, delta: float) -> dict[str, float]:
    """h' = (1 − δ)·h + δ·e_k (δ < 0 moves away from k); raises if a weight would go negative."""
    if component not in weights:
        raise PatRuntimeError("finite_difference", f"unknown component {component!r}",
                              f"choose one of {sorted(weights)}")
    total = float(sum(weights.values()))
    out = {k: (1 - delta) * v / total + (delta if k == component else 0.0) for k, v in weights.items()}
    if min(out.values()) < -1e-12:
        raise PatRuntimeError("finite_difference", f"shift delta={delta:g} makes a weight negative",
                              "use a smaller delta or a one-sided difference")
    return {k: max(v, 0.0) for k, v in out.items()}


def _chain_means(obs: Any) -> np.ndarray:
    arr = obs.detach().cpu().double().numpy() if hasattr(obs, "detach") else np.asarray(obs, float)
    if arr.ndim != 3:
        raise PatRuntimeError("finite_difference", f"sampler returned shape {arr.shape}",
                              "return observations as [chains, draws, observables]")
    return arr.mean(axis=1)  # [C, M]


def paired_finite_difference(sample: SampleFn, weights: Mapping[str, float], component: str,
                             delta: float, nbeta: float, obs_names: list[str] | None = None,
                             central: bool = True) -> FiniteDifference:
    """Δ⟨φ⟩ under h → (1 − δ)·h + δ·e_k from paired runs of ``sample`` (see the module docstring).

    Args:
        sample: ``sample(weights) -> [C, draws, M]``; must reuse one seed so runs share noise.
        weights: the baseline mixture h by component name.
        component: the component k to move toward.
        delta: the shift δ of the mixture (small: 0.01–0.1).
        nbeta: the inverse temperature nβ of the sampler (to convert Δ⟨φ⟩ into χ units).
        obs_names: names of the M observables.
        central: also sample at (1 + δ)·h − δ·e_k and take the central difference when that
            mixture is valid (all weights ≥ 0); otherwise fall back to the forward difference.
    """
    if not 0 < delta < 1:
        raise PatRuntimeError("finite_difference", f"delta={delta:g} is not in (0, 1)",
                              "use a small shift such as 0.05")
    up = _chain_means(sample(shifted_weights(weights, component, delta)))
    use_central = central
    if central:
        try:
            down_w = shifted_weights(weights, component, -delta)
        except PatRuntimeError:
            use_central = False
    if use_central:
        per_chain = (up - _chain_means(sample(down_w))) / 2
    else:
        per_chain = up - _chain_means(sample(dict(weights)))
    C = per_chain.shape[0]
    change = per_chain.mean(0)
    se = per_chain.std(0, ddof=1) / np.sqrt(C) if C > 1 else np.full_like(change, np.nan)
    names = list(obs_names or [f"obs{i}" for i in range(per_chain.shape[1])])
    return FiniteDifference(component, delta, nbeta, use_central, names, change, se)

"""The coupled estimator of χ: paired differences of posterior means with common random numbers.

χ_{φ,k} = (1/nβ)·∂⟨φ⟩/∂ε along h → (1 − ε)·h + ε·e_k. The covariance identity −Cov(φ, L_k − L)
is one estimator of it (:mod:`patternlang.engine.chi`); this module is another, read directly off
its definition: sample the localized posterior at the two mixtures

    h₊ = (1 − δ)·h + δ·e_k        and        h₋ = (1 + δ)·h − δ·e_k

with the *same random numbers* — the same SGLD noise, the same minibatch sequences (only their
per-component loss weights differ) and the same probe sequences — and take

    χ̂_{φ,k} = (⟨φ⟩₊ − ⟨φ⟩₋) / (2·δ·nβ)

(a central difference, bias O(δ²); where h₋ would leave the simplex, the forward difference
(⟨φ⟩₊ − ⟨φ⟩_h) / (δ·nβ) against a run at h itself). The two paired chains see the same noise, so
most of their Monte Carlo error cancels in the difference: the per-draw difference series
d_c(t) = φ(w₊_c(t)) − φ(w₋_c(t)) is far less noisy than either chain. And the estimate reads the
posterior *mean*, which SGLD's step leaves exact to first order, while the covariance is inflated
along stiff directions by (I − εP/4)⁻¹ (docs/sampler.md, "The step and χ").

**Every chain is a replicate.** Chain c has its own SGLD seed *and its own probe set* (and keeps
both across the paired runs), so the chain estimates χ̂_c = mean_t d_c(t) / (2δ·nβ) are independent
and identically distributed over every source of noise: SGLD noise, minibatches, the probe draw,
slow mixing. Their spread is therefore an honest standard error of the mean over chains:

* ``se_between`` = sd_c(χ̂_c) / √C — includes the probe-set variance (only it does);
* ``se_within`` = the blocking standard error of the pooled series (:func:`blocking_se`), which
  sees autocorrelation within chains but not the probe draw: a lower bound;
* ``se`` = the larger of the two (with few chains the between-chain spread is itself noisy; the
  blocking SE keeps an unlucky small spread from claiming more than the draws support).

**Drift**: a chain that has not reached its stationary law makes the early and late halves of its
difference series disagree; ``drift_z`` is (second-half mean − first-half mean) over the SE of
that difference (between chains). |drift_z| >= 3 on a targeted entry is a warning.

Engine-only: the runtime (:mod:`patternlang.runtime.services.coupled`) supplies the paired series;
tests feed exact samplers of Gaussian models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from patternlang.engine.moments import blocking_se

#: draws per block at the finest blocking level of ``se_within``
BLOCK = 5


@dataclass
class PairedSeries:
    """The paired observation series of one component's difference, per chain.

    ``plus[c]`` / ``minus[c]``: [draws, M] observations of chain c at h₊ and at h₋ (or at h for a
    forward difference, ``central=False``); ``scale`` = 2δ·nβ (central) or δ·nβ (forward)."""

    component: str
    plus: list[np.ndarray]
    minus: list[np.ndarray]
    scale: float
    central: bool

    def differences(self) -> list[np.ndarray]:
        """d_c(t) / scale per chain: [draws, M] each (paired runs of unequal length are cut)."""
        out = []
        for p, m in zip(self.plus, self.minus):
            n = min(len(p), len(m))
            out.append((np.asarray(p[:n], float) - np.asarray(m[:n], float)) / self.scale)
        return out


@dataclass
class ColumnEstimate:
    """χ's column of one component from :class:`PairedSeries`: the estimate per observable with
    its standard errors, the per-chain estimates and the drift statistic."""

    component: str
    chi: np.ndarray
    se: np.ndarray
    se_between: np.ndarray
    se_within: np.ndarray
    per_chain: np.ndarray  # [C, M]
    drift_z: np.ndarray
    central: bool


def column_estimate(pairs: PairedSeries) -> ColumnEstimate:
    """χ̂ of every observable toward ``pairs.component`` with its errors (module docstring)."""
    diffs = [d for d in pairs.differences() if len(d) >= 2]
    if not diffs:
        raise ValueError(f"no paired draws for {pairs.component!r}")
    M = diffs[0].shape[1]
    per_chain = np.stack([d.mean(0) for d in diffs])  # [C, M]
    C = len(diffs)
    chi = per_chain.mean(0)
    between = per_chain.std(0, ddof=1) / np.sqrt(C) if C > 1 else np.full(M, np.nan)
    within = _within_se(diffs)
    se = np.fmax(between, within)
    return ColumnEstimate(pairs.component, chi, se, between, within, per_chain,
                          _drift_z(diffs), pairs.central)


def _within_se(diffs: list[np.ndarray]) -> np.ndarray:
    """Blocking SE of the pooled mean of the difference series (blocks of ``BLOCK`` draws)."""
    blocks = [d[: len(d) // BLOCK * BLOCK].reshape(-1, BLOCK, d.shape[1]).mean(1) for d in diffs
              if len(d) >= BLOCK]
    if sum(len(b) for b in blocks) < 8:
        return np.full(diffs[0].shape[1], np.nan)
    return blocking_se(blocks)


def _drift_z(diffs: list[np.ndarray]) -> np.ndarray:
    """(late-half mean − early-half mean) / its between-chain SE, per observable."""
    halves = np.stack([d[len(d) // 2:].mean(0) - d[: len(d) // 2].mean(0) for d in diffs])
    if len(halves) < 2:
        return np.full(halves.shape[1], np.nan)
    se = halves.std(0, ddof=1) / np.sqrt(len(halves))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, halves.mean(0) / se, np.nan)


def derived_column(columns: list[ColumnEstimate], weights: dict[str, float],
                   missing: str) -> ColumnEstimate:
    """The column of ``missing`` from the others by the identity Σ_k h_k χ_k = 0 (the directions
    e_k − h, weighted by h_k, sum to zero, so do their responses): per chain,
    χ_m = −Σ_{k≠m} h_k χ_k / h_m, so the derived column's SE is again the chains' spread. Needs a
    column for every other component of positive weight; saves two runs per chain."""
    h = {k: float(v) for k, v in weights.items()}
    C = min(len(c.per_chain) for c in columns)
    per_chain = cast(np.ndarray, -sum(h[c.component] * c.per_chain[:C] for c in columns) / h[missing])
    M = per_chain.shape[1]
    between = per_chain.std(0, ddof=1) / np.sqrt(C) if C > 1 else np.full(M, np.nan)
    nan = np.full(M, np.nan)
    return ColumnEstimate(missing, per_chain.mean(0), between, between, nan, per_chain, nan, True)


@dataclass
class CoupledChi:
    """χ [M observables, K components] from paired differences, with standard errors.

    Columns not estimated (components the patternings cannot move) are NaN; ``estimated[k]`` says
    which are. ``per_chain`` [C, M, K] holds the chain replicates (split halves read them)."""

    obs_names: list[str]
    comp_names: list[str]
    chi: np.ndarray
    se: np.ndarray
    se_between: np.ndarray
    se_within: np.ndarray
    drift_z: np.ndarray
    per_chain: np.ndarray
    estimated: list[bool]
    central: list[bool]
    delta: float
    nbeta: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def z(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.se > 0, self.chi / self.se, np.nan)

    def half(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        """(χ, SE) from the even (``which`` 0) or odd (1) chains alone: an independent half."""
        part = self.per_chain[which::2]
        C = len(part)
        se = part.std(0, ddof=1) / np.sqrt(C) if C > 1 else np.full(part.shape[1:], np.nan)
        return part.mean(0), se


def coupled_chi(columns: list[ColumnEstimate], obs_names: list[str], comp_names: list[str],
                delta: float, nbeta: float) -> CoupledChi:
    """Assemble per-component :class:`ColumnEstimate` into a :class:`CoupledChi` over every
    component (NaN columns for those not estimated). Chains are cut to the fewest any column has."""
    M, K = len(obs_names), len(comp_names)
    C = min((len(c.per_chain) for c in columns), default=0)
    arrays: dict[str, Any] = {k: np.full((M, K), np.nan) for k in ("chi", "se", "se_between", "se_within", "drift_z")}
    per_chain = np.full((C, M, K), np.nan)
    estimated, central = [False] * K, [False] * K
    for col in columns:
        j = comp_names.index(col.component)
        for name in arrays:
            arrays[name][:, j] = getattr(col, name)
        per_chain[:, :, j] = col.per_chain[:C]
        estimated[j], central[j] = True, col.central
    return CoupledChi(list(obs_names), list(comp_names), per_chain=per_chain, estimated=estimated,
                      central=central, delta=delta, nbeta=nbeta, **arrays)


__all__ = [
    "BLOCK",
    "ColumnEstimate",
    "CoupledChi",
    "PairedSeries",
    "column_estimate",
    "coupled_chi",
    "derived_column",
]

"""Sampler diagnostics: split R-hat, equilibration trend test, divergences, step-size calibration.

* :func:`split_rhat` — Gelman-Rubin R-hat on the draw-loss traces, each chain split in halves
  (values near 1 mean the chains agree; above ~1.1 they explore different regions or still move).
* :func:`trend_test` — is the loss still drifting in the SECOND half of the trace? Per chain, a
  least-squares slope through batch means (robust to autocorrelation); pooled over chains into a
  t statistic. A significant trend (p < 0.01) means the burn-in was too short or ε too small.
* :func:`effective_sample_size` — per chain, Geyer's initial positive sequence estimator of the
  integrated autocorrelation time (Geyer 1992; as in Stan / Vehtari et al. 2021): how many
  independent draws the autocorrelated trace is worth.
* :func:`find_divergences` — NaN, inf or a loss blow-up, naming the chain and the first bad step.
  The sampler drops such chains from the estimate, keeps the others, flags the result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

RHAT_LIMIT = 1.1
RHAT_PUBLISHABLE = 1.01  # Vehtari et al. (2021): split R-hat below 1.01 and a total ESS above 400
ESS_PUBLISHABLE = 400
TREND_P = 0.01


@dataclass(frozen=True)
class Divergence:
    """Chain ``chain`` diverged at sampler step ``step`` (burn-in included) because of ``reason``."""

    chain: int
    step: int
    reason: str

    def __str__(self) -> str:
        return f"chain {self.chain} diverged at step {self.step} ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Trend:
    """Second-half drift: per-chain slope (loss per draw), pooled t statistic and p-value."""

    slopes: list[float]
    t_stat: float
    p_value: float
    llc_drift: float  # nβ x (pooled slope) x (length of the second half): LLC change over it

    @property
    def equilibrated(self) -> bool:
        return not (self.p_value < TREND_P)


@dataclass
class Diagnostics:
    rhat: float
    trend: Trend
    divergences: list[Divergence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    remedy: str | None = None
    ess_per_chain: list[float] = field(default_factory=list)

    @property
    def ess(self) -> float:
        """Effective sample size of the draw losses, summed over kept chains."""
        return float(np.nansum(self.ess_per_chain)) if self.ess_per_chain else float("nan")

    @property
    def publishable(self) -> bool:
        """Split R-hat <= 1.01 and total ESS >= 400 (Vehtari et al. 2021): settings to report."""
        return bool(math.isfinite(self.rhat) and self.rhat <= RHAT_PUBLISHABLE and self.ess >= ESS_PUBLISHABLE)

    @property
    def flagged(self) -> bool:
        return bool(self.warnings)

    def summary(self) -> str:
        head = (f"R-hat {self.rhat:.3f}, ESS {self.ess:.0f}, second-half trend p={self.trend.p_value:.3g}"
                + ("" if self.publishable else f" (not publishable: needs R-hat <= {RHAT_PUBLISHABLE} "
                   f"and ESS >= {ESS_PUBLISHABLE})"))
        return head + ("" if not self.warnings else "; " + "; ".join(self.warnings))

    def to_dict(self) -> dict[str, Any]:
        def nan(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"rhat": nan(self.rhat), "trend": {"slopes": [nan(s) for s in self.trend.slopes],
                "t_stat": nan(self.trend.t_stat), "p_value": nan(self.trend.p_value),
                "llc_drift": nan(self.trend.llc_drift), "equilibrated": self.trend.equilibrated},
                "divergences": [d.to_dict() for d in self.divergences], "warnings": self.warnings,
                "remedy": self.remedy, "flagged": self.flagged,
                "ess_per_chain": [nan(e) for e in self.ess_per_chain], "ess": nan(self.ess),
                "publishable": self.publishable}


def split_rhat(trace: np.ndarray) -> float:
    """Split R-hat of ``trace [C, n]`` (NaN when fewer than 4 draws per chain)."""
    x = np.asarray(trace, dtype=np.float64)
    half = x.shape[-1] // 2
    if half < 2 or x.shape[0] < 1:
        return float("nan")
    parts = np.concatenate([x[:, :half], x[:, half:2 * half]], axis=0)
    means, variances = parts.mean(axis=1), parts.var(axis=1, ddof=1)
    W, B = variances.mean(), half * means.var(ddof=1)
    if W <= 0:
        return 1.0 if B <= 0 else float("inf")
    var_plus = (half - 1) / half * W + B / half
    return float(np.sqrt(var_plus / W))


def effective_sample_size(trace: np.ndarray) -> np.ndarray:
    """ESS of each row of ``trace [C, n]``: n / τ with τ = -1 + 2·Σ Γ_k, Geyer's initial positive
    sequence (Γ_k = ρ_{2k} + ρ_{2k+1}, summed while positive and made monotone). NaN below 4 draws;
    a constant trace has ESS n."""
    x = np.atleast_2d(np.asarray(trace, dtype=np.float64))
    C, n = x.shape
    if n < 4:
        return np.full(C, np.nan)
    d = x - x.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(d, size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), size, axis=1)[:, :n] / n
    out = np.empty(C)
    for c in range(C):
        if acov[c, 0] <= 0:
            out[c] = n
            continue
        rho = acov[c] / acov[c, 0]
        pairs = rho[: 2 * ((n - 1) // 2)].reshape(-1, 2).sum(axis=1)  # Γ_0, Γ_1, ...
        stop = np.argmax(pairs <= 0) if (pairs <= 0).any() else len(pairs)
        gam = np.minimum.accumulate(pairs[:stop])
        tau = -1.0 + 2.0 * gam.sum() if stop else 1.0
        out[c] = n / max(tau, 1.0 / math.log10(max(n, 10)))  # Stan's cap on antithetic chains
    return out


def trend_test(trace: np.ndarray, nbeta: float = 1.0, n_batches: int = 10) -> Trend:
    """Slope of the draw loss over the second half of each chain, pooled into one test."""
    x = np.asarray(trace, dtype=np.float64)
    second = x[:, x.shape[-1] // 2:]
    size = second.shape[-1] // n_batches
    if size < 1 or x.shape[0] == 0:
        return Trend([], float("nan"), float("nan"), float("nan"))
    means = second[:, : size * n_batches].reshape(x.shape[0], n_batches, size).mean(axis=2)
    centers = (np.arange(n_batches) + 0.5) * size
    centers = centers - centers.mean()
    slopes = (means * centers).sum(axis=1) / (centers ** 2).sum()
    if x.shape[0] > 1:
        se, dof = slopes.std(ddof=1) / math.sqrt(x.shape[0]), x.shape[0] - 1
    else:
        resid = means[0] - means[0].mean() - slopes[0] * centers
        se, dof = math.sqrt((resid ** 2).sum() / (n_batches - 2) / (centers ** 2).sum()), n_batches - 2
    pooled = float(slopes.mean())
    t = pooled / se if se > 0 else (0.0 if pooled == 0 else math.inf)
    p = float(2 * stats.t.sf(abs(t), dof)) if math.isfinite(t) else 0.0
    return Trend(slopes.tolist(), float(t), p, nbeta * pooled * second.shape[-1])


def find_divergences(window: np.ndarray, first_step: int, init_loss: float,
                     blowup: float) -> dict[int, tuple[int, str]]:
    """First bad step per chain in ``window [C, n]`` of losses at steps ``first_step...``."""
    limit = init_loss + blowup * (abs(init_loss) + 1.0)
    found = {}
    for i, row in enumerate(window):
        bad = ~np.isfinite(row) | (row > limit)
        if bad.any():
            j = int(np.argmax(bad))
            reason = "non-finite loss" if not np.isfinite(row[j]) else \
                f"loss blow-up: {row[j]:.4g} > {limit:.4g}"
            found[i] = (first_step + j, reason)
    return found


def remedy_for(step_size: float | None, gamma: float | None) -> str:
    """The standard advice after a divergence."""
    if step_size is None or gamma is None:
        return "use a smaller step_size or a larger gamma"
    return (f"use a smaller step_size (e.g. {step_size / 4:.3g} instead of {step_size:.3g}) or a larger "
            f"gamma (e.g. {max(gamma * 4, 1.0):.3g} instead of {gamma:.3g}); "
            f"patternlang.engine.sampler.llc.calibrate_step_size() finds the largest stable step")


def diagnose(trace: np.ndarray, alive: np.ndarray, divergences: Sequence[Divergence], nbeta: float,
             step_size: float | None = None, gamma: float | None = None) -> Diagnostics:
    """All diagnostics of a run from its kept-draw trace and its divergences."""
    alive = np.asarray(alive, dtype=bool)
    kept = np.asarray(trace, dtype=np.float64)[alive]
    rhat = split_rhat(kept) if kept.shape[0] else float("nan")
    trend = trend_test(kept, nbeta)
    warnings, remedy = [], None
    if divergences:
        names = ", ".join(str(d) for d in divergences)
        warnings.append(f"{names}; dropped from the estimate ({int(alive.sum())} of {alive.size} chains kept)")
        remedy = remedy_for(step_size, gamma)
    if kept.shape[0] > 1 and math.isfinite(rhat) and rhat > RHAT_LIMIT:
        warnings.append(f"chains disagree: split R-hat {rhat:.3f} > {RHAT_LIMIT}")
    if not trend.equilibrated:
        warnings.append(f"loss still trending in the second half (t={trend.t_stat:.2f}, "
                        f"LLC drift {trend.llc_drift:.3g}): lengthen burn-in or raise step_size")
    ess = effective_sample_size(kept).tolist() if kept.shape[0] else []
    return Diagnostics(rhat, trend, list(divergences), warnings, remedy, ess)

"""The LLC from a chain's online loss moments: λ̂ = nβ·(mean draw loss − L(w*)).

The sampler accumulates ``draw_sum`` and ``draw_count`` per chain in float64, so the estimate needs
no stored draws; :func:`running_llc` turns a kept trace into curves for plots. The estimators that
run the sampler live in :mod:`patternlang.engine.sampler.llc`.
"""

from __future__ import annotations

import numpy as np


def llc_from_moments(draw_sum: np.ndarray, draw_count: np.ndarray, init_loss: float, nbeta: float,
                     alive: np.ndarray, trace: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Per-chain LLC, mean over kept chains, standard error. Dropped chains give NaN per chain."""
    draw_sum = np.asarray(draw_sum, dtype=np.float64)
    alive = np.asarray(alive, dtype=bool)
    count = np.maximum(np.asarray(draw_count, dtype=np.float64), 1.0)
    per_chain = nbeta * (draw_sum / count - init_loss)
    per_chain = np.where(alive, per_chain, np.nan)
    kept = per_chain[alive]
    if kept.size == 0:
        return per_chain, float("nan"), float("nan")
    mean = float(kept.mean())
    if kept.size > 1:
        se = float(kept.std(ddof=1) / np.sqrt(kept.size))
    elif trace is not None:
        se = nbeta * batch_means_se(trace[alive][0])
    else:
        se = float("nan")
    return per_chain, mean, se


def batch_means_se(x: np.ndarray, n_batches: int = 10) -> float:
    """Standard error of the mean of an autocorrelated series by non-overlapping batch means."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    n_batches = min(n_batches, x.size // 2)
    if n_batches < 2:
        return float("nan")
    size = x.size // n_batches
    means = x[: size * n_batches].reshape(n_batches, size).mean(axis=1)
    return float(means.std(ddof=1) / np.sqrt(n_batches))


def running_llc(trace: np.ndarray, init_loss: float, nbeta: float) -> np.ndarray:
    """The LLC estimate after each kept draw, per chain: ``[C, n]`` (for trace plots)."""
    trace = np.asarray(trace, dtype=np.float64)
    steps = np.arange(1, trace.shape[-1] + 1)
    return nbeta * (np.cumsum(trace, axis=-1) / steps - init_loss)

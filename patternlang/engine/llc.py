"""Local learning coefficient estimators: LLC, restricted LLC, per-solution LLC.

λ̂(w*) = nβ·(E_p[L(w)] - L(w*)) (Lau et al. 2023), with E_p the mean of the draw losses of a
chain (burn-in excluded) and L(w*) the loss at the center averaged over several batches. Each chain
gives one value; the estimate is their mean, with the standard error of that mean over chains (or,
with one chain, from batch means of its trace).

* :func:`estimate_llc` — the LLC at ``center`` (default: the model's parameters).
* :func:`restricted_llc` — sample only the selected coordinates (``"l1h3"``, ``"blocks.0.*"``),
  everything else frozen at w*: the weight-refined LLC of that component.
* :func:`per_solution_llc` — one LLC per center (a representative checkpoint of each solution), same
  settings and random streams for all, so their difference is not blurred by different noise.

Moments are accumulated online in float64 by the sampler (``draw_sum``, ``draw_count``), so the
estimate needs no stored draws; :func:`running_llc` turns a kept trace into curves for plots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor, nn

if TYPE_CHECKING:
    from patternlang.engine.sgld import SGLDConfig, SGLDResult


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


def estimate_llc(model: nn.Module, loss_fn: Any, batch_fn: Any, config: SGLDConfig,
                 **kwargs: Any) -> SGLDResult:
    """The LLC at ``center`` (keyword; default the model's parameters). See :func:`run_sgld`."""
    from patternlang.engine.sgld import run_sgld

    return run_sgld(model, loss_fn, batch_fn, config, **kwargs)


def restricted_llc(model: nn.Module, loss_fn: Any, batch_fn: Any, config: SGLDConfig,
                   restrict: Sequence[str], **kwargs: Any) -> SGLDResult:
    """The weight-restricted LLC: only coordinates selected by ``restrict`` move.

    ``restrict`` holds parameter-name globs and head selectors (``["l1h3"]``, ``["blocks.0.*"]``);
    see :mod:`patternlang.engine.restrict`.
    """
    from patternlang.engine.sgld import run_sgld

    if isinstance(restrict, str):
        restrict = [restrict]
    cfg = dataclasses.replace(config, restrict=tuple(restrict))
    return run_sgld(model, loss_fn, batch_fn, cfg, **kwargs)


def per_solution_llc(model: nn.Module, loss_fn: Any, batch_fn: Any, config: SGLDConfig,
                     centers: Mapping[str, Mapping[str, Tensor]], **kwargs: Any) -> dict[str, SGLDResult]:
    """One LLC per named center (state dicts of ``model``'s parameters), same settings and seeds."""
    from patternlang.engine.sgld import run_sgld

    return {name: run_sgld(model, loss_fn, batch_fn, config, center=c, **kwargs)
            for name, c in centers.items()}

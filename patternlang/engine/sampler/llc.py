"""Local learning coefficient estimators: LLC, restricted LLC, per-solution LLC.

λ̂(w*) = nβ·(E_p[L(w)] - L(w*)) (Lau et al. 2023), with E_p the mean of the draw losses of a
chain (burn-in excluded) and L(w*) the loss at the center averaged over several batches. Each chain
gives one value; the estimate is their mean, with the standard error of that mean over chains (or,
with one chain, from batch means of its trace).

* :func:`estimate_llc` — the LLC at ``center`` (default: the model's parameters).
* :func:`restricted_llc` — sample only the selected coordinates (``"l1h3"``, ``"blocks.0.*"``),
  everything else frozen at w*: the weight-refined LLC of that component.
* :func:`calibrate_step_size` — a short sweep over ε: the largest ε whose chains stay stable.
* :func:`per_solution_llc` — one LLC per center (a representative checkpoint of each solution), same
  settings and random streams for all, so their difference is not blurred by different noise.

Moments are accumulated online in float64 by the sampler (``draw_sum``, ``draw_count``), so the
estimate needs no stored draws; :func:`running_llc` turns a kept trace into curves for plots.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from patternlang.engine.sampler.llc_moments import batch_means_se, llc_from_moments, running_llc
from patternlang.engine.sampler.sgld import SGLDConfig, SGLDResult, run_sgld
from patternlang.errors import DivergenceError

__all__ = [
    "Calibration",
    "batch_means_se",
    "calibrate_step_size",
    "estimate_llc",
    "llc_from_moments",
    "per_solution_llc",
    "restricted_llc",
    "running_llc",
]


def estimate_llc(model: nn.Module, loss_fn: Any, batch_fn: Any, config: SGLDConfig,
                 **kwargs: Any) -> SGLDResult:
    """The LLC at ``center`` (keyword; default the model's parameters). See :func:`run_sgld`."""
    return run_sgld(model, loss_fn, batch_fn, config, **kwargs)


def restricted_llc(model: nn.Module, loss_fn: Any, batch_fn: Any, config: SGLDConfig,
                   restrict: Sequence[str], **kwargs: Any) -> SGLDResult:
    """The weight-restricted LLC: only coordinates selected by ``restrict`` move.

    ``restrict`` holds parameter-name globs and head selectors (``["l1h3"]``, ``["blocks.0.*"]``);
    see :mod:`patternlang.engine.sampler.restrict`.
    """
    if isinstance(restrict, str):
        restrict = [restrict]
    cfg = dataclasses.replace(config, restrict=tuple(restrict))
    return run_sgld(model, loss_fn, batch_fn, cfg, **kwargs)


def per_solution_llc(model: nn.Module, loss_fn: Any, batch_fn: Any, config: SGLDConfig,
                     centers: Mapping[str, Mapping[str, Tensor]], **kwargs: Any) -> dict[str, SGLDResult]:
    """One LLC per named center (state dicts of ``model``'s parameters), same settings and seeds."""
    return {name: run_sgld(model, loss_fn, batch_fn, config, center=c, **kwargs)
            for name, c in centers.items()}


@dataclass
class Calibration:
    """Result of :func:`calibrate_step_size`: one row per ε tried, and the suggestion."""

    rows: list[dict[str, Any]]
    suggested: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "suggested": self.suggested}


def calibrate_step_size(model: Any, loss_fn: Any, batch_fn: Any, config: Any,
                        step_sizes: Sequence[float] | None = None, steps: int = 200,
                        **kwargs: Any) -> Calibration:
    """Largest stable ε from a short sweep (each ε: ``steps`` steps, all chains, no burn-in).

    An ε is stable when no chain diverges (NaN, inf, blow-up) and the LLC estimate is finite; each
    row also reports the LLC and R-hat so a user can see where estimates stop depending on ε. The
    suggestion is the largest ε below the first unstable one; ``None`` when the smallest is unstable.
    """
    grid = sorted(step_sizes or [config.step_size * f for f in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)])
    rows, suggested = [], None
    for eps in grid:
        cfg = dataclasses.replace(config, step_size=float(eps), num_draws=steps, burnin=0, thin=1)
        try:
            res = run_sgld(model, loss_fn, batch_fn, cfg, **kwargs)
        except DivergenceError:
            rows.append({"step_size": eps, "stable": False, "diverged": cfg.num_chains, "llc": None})
            break
        d = res.diagnostics
        stable = not d.divergences and math.isfinite(res.llc_mean)
        rows.append({"step_size": eps, "stable": stable, "diverged": len(d.divergences),
                     "llc": res.llc_mean, "llc_se": res.llc_se, "rhat": d.rhat})
        if not stable:
            break
        suggested = float(eps)
    return Calibration(rows, suggested)

"""``step = auto``: choose ε where the LLC estimate stops depending on it.

SGLD's estimate of λ carries a discretization bias that grows with ε; too small an ε leaves the
chains unequilibrated in a fixed budget (λ̂ low, trending). :func:`scan_step_size` walks a geometric
grid DOWN from ``max_step`` by ``factor`` (default 2), one short run per ε at the center (all chains,
``draws`` kept draws after ``burnin`` steps), and stops at the first *plateau*: ``points``
consecutive stable ε whose estimates all agree pairwise (not only neighbours: a slow drift of a few
percent per halving is not a plateau). Two estimates agree when their difference is resolved and
small:

    s = sqrt(se_a² + se_b²) <= rel_tol·m   and   |λ̂_a - λ̂_b| <= max(2s, rel_tol·m),   m = mean |λ̂|

so with ``rel_tol = 0.1`` (the default) the chosen ε (the plateau's largest) agrees with ε/2 and ε/4
within about 10 % (or two combined standard errors, themselves at most 10 %). Measured on the
quickstart with neighbour-only agreement, the walk accepted 44.6 / 40.8 / 39.2 (ε 2.5e-3 / 1.25e-3 /
6.25e-4): each step within 10 %, the ends 14 % apart; pairwise agreement rejects that window.
A point is stable when no chain diverged, the second-half trend test passes and the two halves of
the kept draws give the same λ̂ (within two standard errors of their difference plus ``rel_tol``).
Small steps equilibrate slowly: the flattest directions relax only through the localization, with
time constant 2/(εγ) steps for their position (half that for their variance, which is what the loss
sees), so each point's burn-in is ``max(burnin, 2/(εγ))`` (two e-foldings of the variance); once
that exceeds ``max_burnin`` the walk stops (smaller ε could not equilibrate in the budget; the row
says so).
When no plateau exists on the grid, the scan says so (``plateau = None``, a warning with a remedy)
and falls back to the smallest stable ε.

With ``rows`` (a :class:`RowProbe`: an observer for each point and the χ rows a patterning targets,
measured from it) each point also records those rows (value and SE per data component) and the
plateau needs them to agree too: for each row and component, ``|a_k - b_k| <= max(t·s_k,
rel_tol·m_k)``, s_k the combined SE and t the two-sided 95 % normal quantile Bonferroni-corrected
over the row's K components (2.24 for K = 2). Unlike λ̂ the rows need not be resolved at each
point (a scan is short; ``draws = auto`` resolves them later): a row only breaks a plateau when it
visibly moves with ε. :func:`walk` is the grid walk on any ``measure(ε, burnin) -> row``, so the
rule can be checked on synthetic numbers.

Example::

    scan = scan_step_size(model, loss_fn, batch_fn, SGLDConfig(step_size=1e-3, gamma=100.0))
    cfg = dataclasses.replace(cfg, step_size=scan.chosen)
    print(scan.to_dict())
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.engine.sampler.temperature import localization_steps
from patternlang.errors import DivergenceError, PatRuntimeError

__all__ = ["RowProbe", "StepScan", "agree", "half_drift", "rows_agree", "scan_step_size", "walk"]


class RowProbe(Protocol):
    """The χ rows a scan point records: ``observer()`` is a fresh observer for one point's run,
    ``rows(observer)`` its targeted rows, ``{label: {"value": [K], "se": [K], "components": [K]}}``."""

    def observer(self) -> Callable[..., Any]: ...

    def rows(self, observer: Callable[..., Any]) -> dict[str, dict[str, Any]]: ...


@dataclass
class StepScan:
    """Rows of the scan (largest ε first), the plateau (its ε values) and the chosen ε."""

    rows: list[dict[str, Any]]
    plateau: list[float] | None
    chosen: float
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "plateau": self.plateau, "chosen": self.chosen,
                "warnings": self.warnings, "settings": self.settings}


def agree(a: dict[str, Any], b: dict[str, Any], rel_tol: float) -> bool:
    """Do two scan rows give the same λ̂ (and the same targeted χ rows, when recorded) within
    their errors and ``rel_tol``?"""
    if not (a["stable"] and b["stable"]):
        return False
    m = (abs(a["llc"]) + abs(b["llc"])) / 2
    s = math.hypot(a["llc_se"], b["llc_se"])
    same = s <= rel_tol * m and abs(a["llc"] - b["llc"]) <= max(2 * s, rel_tol * m)
    return bool(same and rows_agree(a.get("rows"), b.get("rows"), rel_tol))


def rows_agree(a: dict[str, Any] | None, b: dict[str, Any] | None, rel_tol: float) -> bool:
    """Do two points' targeted χ rows agree component by component (see the module docstring)?
    Points without rows agree (λ̂ alone decides); a row missing at one point, or not finite, does not."""
    if not a and not b:
        return True
    if not a or not b or set(a) != set(b):
        return False
    for label, ra in a.items():
        va, sa = np.asarray(ra["value"], float), np.asarray(ra["se"], float)
        vb, sb = np.asarray(b[label]["value"], float), np.asarray(b[label]["se"], float)
        t = NormalDist().inv_cdf(1 - 0.025 / max(len(va), 1))
        s, m = np.hypot(sa, sb), (np.abs(va) + np.abs(vb)) / 2
        if not (np.all(np.isfinite(va)) and np.all(np.isfinite(vb)) and np.all(np.isfinite(s))):
            return False
        if np.any(np.abs(va - vb) > np.maximum(t * s, rel_tol * m)):
            return False
    return True


def half_drift(res: Any) -> tuple[float, float]:
    """λ̂ of the second half of the kept draws minus the first half's, and its SE over chains."""
    trace = np.asarray(res.loss_trace, dtype=np.float64)[np.asarray(res.alive, bool)]
    half = trace.shape[1] // 2
    if half < 2 or trace.shape[0] < 2:
        return float("nan"), float("nan")
    d = res.nbeta * (trace[:, half:2 * half].mean(1) - trace[:, :half].mean(1))
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def _row(model: Any, loss_fn: Any, batch_fn: Any, cfg: SGLDConfig, rel_tol: float,
         kwargs: dict[str, Any], probe: RowProbe | None = None) -> dict[str, Any]:
    observer = probe.observer() if probe is not None else None
    try:
        res = run_sgld(model, loss_fn, batch_fn, cfg, observer=observer, **kwargs)
    except DivergenceError:
        return {"step_size": cfg.step_size, "stable": False, "reason": "every chain diverged",
                "llc": None, "llc_se": None, "burnin": cfg.burnin}
    d = res.diagnostics
    finite = math.isfinite(res.llc_mean) and math.isfinite(res.llc_se)
    drift, drift_se = half_drift(res)
    drifting = math.isfinite(drift) and abs(drift) > 2 * drift_se + rel_tol * abs(res.llc_mean)
    reason = ("diverged" if d.divergences else "not finite" if not finite
              else "still trending" if not d.trend.equilibrated
              else f"halves differ by {drift:.3g} ± {drift_se:.2g}" if drifting else None)
    row: dict[str, Any] = {"step_size": cfg.step_size, "stable": reason is None, "reason": reason,
           "llc": res.llc_mean if finite else None, "llc_se": res.llc_se if finite else None,
           "rhat": d.rhat if math.isfinite(d.rhat) else None, "ess": d.ess if math.isfinite(d.ess) else None,
           "burnin": cfg.burnin}
    if probe is not None and observer is not None:
        row["rows"] = probe.rows(observer)
    return row


def scan_step_size(model: Any, loss_fn: Any, batch_fn: Any, config: SGLDConfig, *, max_step: float = 1e-2,
                   factor: float = 2.0, max_points: int = 14, points: int = 3, draws: int = 200,
                   burnin: int | None = None, max_burnin: int | None = None, rel_tol: float = 0.1,
                   rows: RowProbe | None = None, **kwargs: Any) -> StepScan:
    """Scan ε = max_step, max_step/factor, ... at the center; see the module docstring.

    ``config`` supplies everything but the step (chains, γ, nβ, preconditioner, seed, ...);
    ``rows`` adds the targeted χ rows to every point and to the plateau rule; ``kwargs`` go to
    :func:`run_sgld` (``center=``, ``init_loss=``).
    """
    if factor <= 1 or points < 2 or max_points < points or draws < 20:
        raise PatRuntimeError("sample", "bad step scan settings", "use factor > 1, points >= 2, "
                              "max_points >= points, draws >= 20")
    settings = {"max_step": max_step, "factor": factor, "points": points, "draws": draws,
                "burnin": draws if burnin is None else burnin, "rel_tol": rel_tol,
                "max_burnin": 10 * draws if max_burnin is None else max_burnin, "chains": config.num_chains,
                "max_points": max_points, "chi_rows": rows is not None}

    def measure(eps: float, steps: int) -> dict[str, Any]:
        cfg = dataclasses.replace(config, step_size=eps, num_draws=draws, burnin=steps, thin=1, trace_every=1)
        return _row(model, loss_fn, batch_fn, cfg, rel_tol, kwargs, rows)

    assert config.gamma is not None  # SGLDConfig refuses None
    return walk(measure, config.gamma, settings)


def walk(measure: Callable[[float, int], dict[str, Any]], gamma: float, settings: dict[str, Any]) -> StepScan:
    """The grid walk of :func:`scan_step_size` on ``measure(ε, burnin) -> row`` (a row: ``stable``,
    ``llc``, ``llc_se``, optionally ``rows``); ``settings`` as :func:`scan_step_size` records them."""
    rows: list[dict[str, Any]] = []
    max_step, factor, points = settings["max_step"], settings["factor"], settings["points"]
    for k in range(settings["max_points"]):
        eps = max_step / factor ** k
        relax = localization_steps(eps, gamma) if gamma > 0 else 0.0
        if relax > settings["max_burnin"]:
            rows.append({"step_size": eps, "stable": False, "llc": None, "llc_se": None,
                         "reason": f"not run: the localization time 2/(εγ) = {relax:.3g} steps exceeds "
                                   f"max_burnin {settings['max_burnin']}"})
            break
        rows.append(measure(eps, max(settings["burnin"], math.ceil(relax))))
        window = rows[-points:]
        if len(window) == points and all(agree(a, b, settings["rel_tol"]) for a, b in combinations(window, 2)):
            plateau = [r["step_size"] for r in window]
            return StepScan(rows, plateau, plateau[0], [], settings)
    stable = [r["step_size"] for r in rows if r["stable"]]
    if not stable:
        raise PatRuntimeError("sample", f"step scan: no stable step size between {max_step:.3g} and "
                              f"{rows[-1]['step_size']:.3g}", "raise gamma, or lower max_step / "
                              "give more scan draws (the trend test flags unequilibrated chains)")
    chosen = min(stable)
    what = "step sizes (λ̂ and the targeted chi rows)" if settings.get("chi_rows") else "step sizes"
    warn = (f"step scan: no plateau of {points} agreeing {what} between {max_step:.3g} and "
            f"{rows[-1]['step_size']:.3g}; using the smallest stable step {chosen:.3g}. Remedy: more "
            f"scan draws or chains (smaller standard errors), a larger gamma (faster equilibration, "
            f"time constant 2/(step·gamma) steps), or a fixed step checked at step/2 by hand")
    return StepScan(rows, None, chosen, [warn], settings)

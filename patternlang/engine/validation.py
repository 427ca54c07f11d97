"""Validation statistics of a verification: does χ's direction beat chance, and does the linear
response rank the arms? Pure functions over plain arrays (no torch, no run directory).

The inputs, per arm (baseline, patterned, opposite, control, orthogonal, random…, regression):

* ``values[arm]``: the targets' realized values, shape ``[seeds, targets]``, at one evaluation step
  (seeds are shared between arms: the same seed gives the same initialization, so differences are
  *paired*);
* ``onset[arm]``: per seed, the onset step (``None``: absent within the horizon);
* ``predicted[arm]``: per target, the linear response ``T·nβχ·(h_arm − h0)`` with its SE.

and the outputs (see ``docs/validation.md``):

* :func:`beat_fraction`: the fraction of other arms one arm beats on an objective, ties half;
* :func:`spearman`: the rank correlation of predicted and realized change over arms (the
  "structural" linear datamodeling score, TRAK's LDS with mixture steps as the interventions);
* :func:`sign_agreement`: the share of arms whose realized change has the predicted sign, counting
  only arms whose prediction is resolved (``|predicted| > SE``);
* :func:`realized_objective`: the patterning's objective evaluated on realized changes;
* :func:`bootstrap`: a percentile interval of any of these over seeds (paired resampling).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Sequence

import numpy as np


def ranks(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as ``scipy.stats.rankdata``)."""
    a = np.asarray(x, float)
    order = np.argsort(a, kind="mergesort")
    r = np.empty(len(a))
    sorted_a = a[order]
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        r[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's rank correlation (Pearson on average ranks); ``None`` with fewer than three
    points or when either side is constant (no ranking to compare)."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    if len(xa) < 3:
        return None
    rx, ry = ranks(xa), ranks(ya)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def beat_fraction(own: float | None, others: Sequence[float | None], lower_is_better: bool) -> float | None:
    """The fraction of ``others`` that ``own`` beats (strictly better), ties counted half."""
    o = np.asarray([v for v in others if v is not None and np.isfinite(v)], float)
    if not len(o) or own is None or not np.isfinite(own):
        return None
    better = o > own if lower_is_better else o < own
    return float((np.sum(better) + 0.5 * np.sum(o == own)) / len(o))


def sign_agreement(predicted: Sequence[float], se: Sequence[float | None],
                   realized: Sequence[float]) -> tuple[float | None, int]:
    """Share of arms with ``sign(realized) == sign(predicted)`` among those whose prediction is
    resolved (``|predicted| > SE``; an unresolved prediction has no sign to agree with), and how
    many those are."""
    p, r = np.asarray(predicted, float), np.asarray(realized, float)
    s = np.asarray([np.nan if v is None else v for v in se], float)
    resolved = np.isfinite(p) & np.isfinite(r) & (np.abs(p) > np.nan_to_num(s, nan=0.0))
    if not resolved.any():
        return None, 0
    return float(np.mean(np.sign(p[resolved]) == np.sign(r[resolved]))), int(resolved.sum())


def censored_mean(per_seed: Sequence[int | None], horizon: int) -> float | None:
    """Mean onset with an absent onset counted at the horizon (a lower bound when any is absent)."""
    if not len(per_seed):
        return None
    return float(np.mean([horizon if s is None else s for s in per_seed]))


def target_loss(kind: str, desired: float, realized: float) -> float:
    """One target's term of the realized objective (before its weight).

    ``hold`` and ``reach``: ``(realized − desired)²``. ``raise`` / ``lower``: only the shortfall
    counts, ``max(0, desired − realized)²`` for a raise: the desired amount is in the posterior's
    units and training moves observables 10–10⁴ times more (``docs/results.md``), so an overshoot in
    the asked direction is success, not error."""
    if kind == "raise":
        return max(0.0, desired - realized) ** 2
    if kind == "lower":
        return max(0.0, realized - desired) ** 2
    return (realized - desired) ** 2


def realized_objective(kinds: Sequence[str], desired: Sequence[float], weights: Sequence[float],
                       realized: Sequence[float] | np.ndarray) -> float:
    """``Σ_t w_t·loss_t(realized_t)`` over every target, holds included (:func:`target_loss`)."""
    return float(sum(w * target_loss(k, d, r) for k, d, w, r in zip(kinds, desired, weights,
                                                                      realized)))


def compare_onsets(a: float, a_censored: bool, b: float, b_censored: bool) -> str:
    """How onset mean ``a`` compares with ``b`` when a censored mean (some seed never crossed) is
    only a lower bound: ``earlier``, ``later``, ``later at least``, ``earlier at least``, ``same``
    or ``not ordered`` (two lower bounds, or a lower bound below a known mean, cannot be ordered)."""
    if a_censored and b_censored:
        return "not ordered"
    if a_censored:
        return "later at least" if a > b else "not ordered"
    if b_censored:
        return "earlier at least" if a < b else "not ordered"
    return "earlier" if a < b else "later" if a > b else "same"


def bootstrap(stat: Callable[[np.ndarray], float | None], n_seeds: int, n_boot: int = 1000,
              seed: int = 0, level: float = 0.95) -> list[float] | None:
    """Percentile interval of ``stat(idx)`` over seed indices ``idx`` resampled with replacement
    (the same indices for every arm: seeds are paired). ``None`` with one seed or no finite value."""
    if n_seeds < 2:
        return None
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        v = stat(rng.integers(0, n_seeds, n_seeds))
        if v is not None and np.isfinite(v):
            vals.append(v)
    if not vals:
        return None
    a = (1 - level) / 2
    return [float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))]


@dataclass
class ArmsData:
    """The per-arm inputs of :func:`summarize` (module docstring). ``targets`` carry ``label``,
    ``kind``, ``desired``, ``weight``; ``primary`` indexes the target the LDS headline uses;
    ``onset_lower_is_better``: ``None`` when no onset is declared."""

    arms: list[str]
    values: dict[str, np.ndarray]
    predicted: dict[str, np.ndarray]
    predicted_se: dict[str, np.ndarray]
    targets: list[dict[str, Any]]
    primary: int
    horizon: int
    onset: dict[str, list[int | None]] = field(default_factory=dict)
    onset_lower_is_better: bool | None = None

    def realized(self, arm: str, idx: np.ndarray | None = None) -> np.ndarray:
        """Mean over (resampled) seeds of arm − baseline, per target."""
        sel = slice(None) if idx is None else idx
        out: np.ndarray = self.values[arm][sel].mean(0) - self.values["baseline"][sel].mean(0)
        return out

    def onset_mean(self, arm: str, idx: np.ndarray | None = None) -> float | None:
        per = self.onset.get(arm, [])
        return censored_mean(per if idx is None else [per[i] for i in idx], self.horizon)


def random_arms(arms: Sequence[str]) -> list[str]:
    """The ``random(K)`` arms (named ``random1`` … ``randomK``)."""
    return [a for a in arms if a.startswith("random")]


def objective_values(data: ArmsData, idx: np.ndarray | None = None) -> dict[str, float]:
    """The realized objective of every arm but the baseline (lower is better)."""
    t = data.targets
    return {a: realized_objective([x["kind"] for x in t], [x["desired"] for x in t],
                                  [x["weight"] for x in t], data.realized(a, idx))
            for a in data.arms if a != "baseline"}


def _progress_sign(target: dict[str, Any]) -> float:
    """+1 when the target's desired direction is up, −1 when down (``raise``/``lower`` by kind, a
    ``reach`` by its desired change)."""
    if target["kind"] in ("raise", "lower"):
        return 1.0 if target["kind"] == "raise" else -1.0
    return 1.0 if target["desired"] >= 0 else -1.0


def verify_objective(data: ArmsData, idx: np.ndarray | None = None) -> tuple[dict[str, float | None], bool]:
    """Each arm's value on the verify's objective and whether lower is better: the censored onset
    mean when an onset is declared, otherwise the primary target's realized change (signed so that
    the desired direction is better)."""
    if data.onset_lower_is_better is not None:
        return {a: data.onset_mean(a, idx) for a in data.arms}, data.onset_lower_is_better
    p = data.primary
    realized: dict[str, float | None] = {a: float(data.realized(a, idx)[p]) for a in data.arms}
    return (realized,
            _progress_sign(data.targets[p]) < 0)


def all_censored(data: ArmsData, arms: Sequence[str]) -> bool:
    """Whether the objective is an onset that no seed of ``arms`` reached within the horizon:
    every such arm then scores the horizon, and a comparison among them is all ties."""
    if data.onset_lower_is_better is None:
        return False
    return all(v is None for a in arms for v in data.onset.get(a, [None]))


def random_percentile(data: ArmsData, idx: np.ndarray | None = None) -> float | None:
    """Fraction of random arms the patterned arm beats on the verify's objective (ties half);
    ``None`` when every onset of those arms is censored (50 % would be a tie of nothings)."""
    if all_censored(data, ["patterned", *random_arms(data.arms)]):
        return None
    vals, lower = verify_objective(data, idx)
    return beat_fraction(vals.get("patterned"), [vals[a] for a in random_arms(data.arms)], lower)


def objective_percentile(data: ArmsData, idx: np.ndarray | None = None) -> float | None:
    """The same on the realized patterning objective (all targets, holds included)."""
    vals: dict[str, float | None] = dict(objective_values(data, idx))
    return beat_fraction(vals.get("patterned"), [vals[a] for a in random_arms(data.arms)], True)


def lds(data: ArmsData, target: int, idx: np.ndarray | None = None) -> float | None:
    """Spearman of predicted vs realized change of one target over every arm but the baseline."""
    arms = [a for a in data.arms if a != "baseline"]
    return spearman([data.predicted[a][target] for a in arms],
                    [data.realized(a, idx)[target] for a in arms])


def lds_onset(data: ArmsData, idx: np.ndarray | None = None) -> float | None:
    """Spearman, over every arm but the baseline, of the primary target's predicted progress (its
    linear response in the desired direction) vs the realized onset advance over the baseline
    (earlier when the objective wants earlier; censored onsets at the horizon, ties averaged).
    ``None`` without an onset."""
    if data.onset_lower_is_better is None:
        return None
    t, sign = data.primary, _progress_sign(data.targets[data.primary])
    base = data.onset_mean("baseline", idx)
    arms = [a for a in data.arms if a != "baseline"]
    advance = [(_known(base) - _known(data.onset_mean(a, idx))) * (1.0 if data.onset_lower_is_better else -1.0)
               for a in arms]
    return spearman([sign * data.predicted[a][t] for a in arms], advance)


def signs(data: ArmsData, target: int, idx: np.ndarray | None = None) -> tuple[float | None, int]:
    """:func:`sign_agreement` of one target over every arm but the baseline."""
    arms = [a for a in data.arms if a != "baseline"]
    return sign_agreement([data.predicted[a][target] for a in arms],
                          [data.predicted_se[a][target] for a in arms],
                          [data.realized(a, idx)[target] for a in arms])


def summarize(data: ArmsData, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The validation summary (``docs/validation.md``): percentiles, LDS and sign agreement of the
    primary target with bootstrap intervals over seeds, per-target LDS, and the points and
    outcomes the report plots."""
    n = next(iter(data.values.values())).shape[0]
    def boot(f: Callable[[np.ndarray], float | None]) -> list[float] | None:
        return bootstrap(f, n, n_boot, seed)

    p = data.primary
    agree, resolved = signs(data, p)
    outcomes, lower = verify_objective(data)
    degenerate = []
    if random_arms(data.arms) and all_censored(data, ["patterned", *random_arms(data.arms)]):
        degenerate.append(f"every onset of the patterned and random arms is censored at the "
                          f"horizon ({data.horizon}): the percentile on the onset compares nothing")
    return {
        "degenerate": degenerate,
        "random_arms": len(random_arms(data.arms)),
        "random_percentile": random_percentile(data),
        "random_percentile_ci": boot(lambda i: random_percentile(data, i)),
        "objective_percentile": objective_percentile(data),
        "objective_percentile_ci": boot(lambda i: objective_percentile(data, i)),
        "lds_target": data.targets[p]["label"],
        "lds_spearman": lds(data, p),
        "lds_spearman_ci": boot(lambda i: lds(data, p, i)),
        "lds_onset_spearman": lds_onset(data),
        "lds_onset_spearman_ci": boot(lambda i: lds_onset(data, i)),
        "sign_agreement": agree,
        "sign_agreement_ci": boot(lambda i: signs(data, p, i)[0]),
        "sign_resolved_arms": resolved,
        "per_target": [{"target": t["label"], "lds_spearman": lds(data, j),
                        "sign_agreement": signs(data, j)[0], "sign_resolved_arms": signs(data, j)[1]}
                       for j, t in enumerate(data.targets)],
        "outcomes": outcomes, "outcome_lower_is_better": lower,
        "objectives": objective_values(data),
        "points": [{"arm": a, "target": t["label"], "predicted": float(data.predicted[a][j]),
                    "se": _num(data.predicted_se[a][j]), "realized": float(data.realized(a)[j]),
                    "realized_sd": float(np.std(data.values[a][:, j] - data.values["baseline"][:, j]))}
                   for a in data.arms if a != "baseline" for j, t in enumerate(data.targets)],
    }


def _known(x: float | None) -> float:
    assert x is not None
    return x


def _num(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)

"""The verify step's report section (:func:`section`): the curves of the tracked observables, the
onsets and the calibration, then the validation part: headline figures, the two validation plots,
the regression baseline at its compute, the verdict per target and the table of every arm.

Reads only the verify step's typed result (``validation``, ``verdict``, ``arms``), so ``patc report``
re-renders it. The figures' meaning is in ``docs/validation.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from patternlang.runtime import figures
from patternlang.runtime.markdown import Section, slug, table
from patternlang.runtime.results_types import ArmResult, OnsetResult, VerifyResult
from patternlang.runtime.rundir import safe_name
from patternlang.runtime.validation_types import RegressionRecord, ValidationResult, VerdictResult


def _fmt(v, digits: str = ".3g") -> str:
    return "—" if v is None else f"{v:{digits}}"


def _ci(v: list | None, pct: bool = False) -> str:
    if not v:
        return ""
    f = (lambda x: f"{x:.0%}") if pct else (lambda x: f"{x:.2f}")  # noqa: E731
    return f" [{f(v[0])}, {f(v[1])}]"


def sign_cell(agrees: bool | None) -> str:
    """``sign agrees`` in words; ``None`` (a prediction within its SE has no sign) is unresolved."""
    return "unresolved (prediction within its SE)" if agrees is None else ("yes" if agrees else "no")


def onset_cell(o: OnsetResult | None) -> str:
    """An arm's onset as the one mean used everywhere: the censored mean, ``>=`` when a seed never
    crossed (absent seeds count at the horizon, so the mean is a lower bound)."""
    if o is None or o.censored_mean is None:
        return "—"
    return f"{'>=' if o.absent else ''}{o.censored_mean:.0f}"


def headline(v: ValidationResult) -> list[str]:
    """Sentences for the validation figures with their bootstrap intervals over seeds."""
    lines = [f"- **Not a comparison**: {why}." for why in v.degenerate]
    if v.random_arms:
        lines.append(f"- Patterned vs {v.random_arms} random arms of the same step length, on the "
                     f"{v.objective}: beats {_fmt(v.random_percentile, '.0%')}"
                     f"{_ci(v.random_percentile_ci, True)} (ties half; 95% bootstrap "
                     "interval over seeds).")
        lines.append(f"- On the realized patterning objective (every target with its weight, holds "
                     f"included): beats {_fmt(v.objective_percentile, '.0%')}"
                     f"{_ci(v.objective_percentile_ci, True)}.")
    lines.append(f"- LDS (Spearman of predicted vs realized change of {v.lds_target} over "
                 f"{len({p.arm for p in v.points})} arms, at step {v.evaluated_at}, "
                 f"{v.evaluated_at_reason}): {_fmt(v.lds_spearman, '.2f')}"
                 f"{_ci(v.lds_spearman_ci)}; sign agreement "
                 f"{_fmt(v.sign_agreement, '.0%')}{_ci(v.sign_agreement_ci, True)} over "
                 f"the {v.sign_resolved_arms} arms whose prediction exceeds its SE.")
    if v.lds_onset_spearman is not None:
        lines.append(f"- LDS on the onset (Spearman of the predicted progress of {v.lds_target} "
                     f"vs how much earlier — or later, for a delay — each arm's onset comes than "
                     f"the baseline's): {_fmt(v.lds_onset_spearman, '.2f')}"
                     f"{_ci(v.lds_onset_spearman_ci)}.")
    return lines


def regression_lines(r: RegressionRecord, outcomes: Mapping[str, float | None]) -> list[str]:
    """The regression baseline: its compute beside the patterning's, the fit's quality."""
    pc, rc = r.compute.patterning, r.compute.regression
    ratio = rc.equivalent_fwd_bwd / pc.equivalent_fwd_bwd if pc.equivalent_fwd_bwd else None
    rows = [f"| patterning | {pc.checkpoint_fwd_bwd + pc.sampling_fwd_bwd:,} | "
            f"{pc.observation_fwd:,} | {pc.equivalent_fwd_bwd:,.0f} |",
            f"| regression ({r.runs} proxies x {r.steps} steps) | "
            f"{rc.training_fwd_bwd:,} | {rc.observation_fwd:,} | "
            f"{rc.equivalent_fwd_bwd:,.0f} |"]
    fits = "; ".join(f"{f.target}: {f.model}, leave-one-out R² {f.r2_loo:.2f}" for f in r.fits)
    why = r.degenerate
    name = ("Regression arm — **not a black-box baseline**: " + "; ".join(why) + ". Its"
            if why else "Regression baseline")
    return ["", f"{name} (compute ratio regression ÷ patterning "
            f"{_fmt(ratio, '.2f')}; forwards count a third):", "",
            "| method | fwd+bwd sequences | fwd sequences | equivalent fwd+bwd |",
            "| --- | --- | --- | --- |", *rows, "",
            f"Fit: {fits}. Solution on the fit: {r.solution.status}; outcome "
            f"{_fmt(outcomes.get('regression'))} vs patterned {_fmt(outcomes.get('patterned'))}.", ""]


def verdict_lines(vd: VerdictResult) -> list[str]:
    """The verdict table (realized = patterned − baseline per seed)."""
    rows = ["| target | desired Δ | predicted Δ ± SE | realized Δ ± sd (step "
            f"{vd.evaluated_at}) | at the horizon | sign agrees | verdict |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in vd.targets:
        sign = sign_cell(t.sign_agrees)
        h = t.at_horizon
        rows.append(f"| {t.target} | {t.desired:+.3g} | {_fmt(t.predicted, '+.2g')} ± "
                    f"{_fmt(t.se, '.2g')} | {t.realized_mean:+.3g} ± {t.realized_sd:.2g} | "
                    f"{h.realized_mean:+.3g} ± {h.realized_sd:.2g} | {sign} | {t.verdict} |")
    return ["", "Verdict per target (realized: per-seed paired difference patterned − baseline; a "
            "hold held when |realized| ≤ max(2·sd of the baseline over seeds, 2% of its value)):",
            "", *rows, ""]


def arms_table(vd: VerdictResult, arms: dict[str, ArmResult], onset_name: str | None) -> list[str]:
    """Every arm's weights, onset (one mean, ``>=`` when censored) and target values."""
    comps = list(vd.arms[0].weights) if vd.arms else []
    labels = list(vd.arms[0].targets) if vd.arms else []
    head = ["arm", *comps, "onset" if onset_name else None,
            *[f"{t} (step {vd.evaluated_at})" for t in labels]]
    head = [h for h in head if h is not None]
    rows = [f"| {' | '.join(head)} |", f"| {' | '.join('---' for _ in head)} |"]
    for a in vd.arms:
        cells = [a.arm, *[f"{a.weights[c]:.3f}" for c in comps]]
        if onset_name:
            cells.append(onset_cell(arms[a.arm].onset.get(onset_name)))
        cells += [f"{a.targets[t]:.4g}" for t in labels]
        rows.append(f"| {' | '.join(cells)} |")
    return ["Every arm (weights, onset mean with absent seeds at the horizon, targets' mean over "
            "seeds):", "", *rows, ""]


def validation_section(sid: str, r: VerifyResult, figdir: Path, slug) -> list[str]:
    """The validation lines of a verify section (empty without a validation summary)."""
    v, vd = r.validation, r.verdict
    if v is None:
        return []
    lines = ["", f"#### Validation: `{sid}`", "", *headline(v), ""]
    pts = [p for p in v.points if p.target == v.lds_target]
    p1 = figures.predicted_vs_realized(pts, figdir / f"lds-{slug(sid)}.png", target=v.lds_target,
                                       title=f"LDS = {_fmt(v.lds_spearman, '.2f')}")
    lines += [f"![predicted vs realized](figures/{p1.name})", ""]
    if v.random_arms:
        label = v.objective + (" (lower is better)" if v.outcome_lower_is_better
                               else " (higher is better)")
        p2 = figures.arm_outcomes(v.outcomes, figdir / f"random-{slug(sid)}.png", label=label)
        lines += [f"![random arms](figures/{p2.name})", ""]
    if v.regression:
        lines += regression_lines(v.regression, v.outcomes)
    if vd is not None:
        onset = r.onset_specs[0].observable if r.onset_specs else None
        lines += verdict_lines(vd) + arms_table(vd, r.arms, onset)
    return lines


def section(s: Section) -> list[str]:
    """The verify step's report section: the curves of every tracked observable, onsets, calibration and the validation."""
    sid, r = s.step_id, s.of(VerifyResult)
    lines = [f"### Verification: `{sid}`", ""]
    lines += curves_lines(sid, r, s.figdir) + onset_lines(r.arms)
    lines += [f"- {k}: {v}" for k, v in r.headline.items()]
    if r.calibration:
        lines += ["", "Calibration (realized change at the horizon, patterned − baseline, vs the "
                  "solver's posterior prediction):", "",
                  table(["observable", "predicted Δ", "± SE", "realized Δ", "realized ÷ predicted",
                         "sign agrees"], [[c.observable, c.predicted, c.se, c.realized, c.ratio,
                                           sign_cell(c.sign_agrees)] for c in r.calibration]), ""]
    return lines + validation_section(sid, r, s.figdir, slug)


def curves_lines(sid: str, r: VerifyResult, figdir: Path) -> list[str]:
    """A figure per plotted observable: its curve in every arm but the random ones, the onset
    thresholds drawn across."""
    lines = []
    for obs in r.plotted:
        curves = {a: np.asarray(arm.curves[obs], float) for a, arm in r.arms.items()
                  if obs in arm.curves and not a.startswith("random")}
        if not curves:
            continue
        thr = [o.threshold for o in r.onset_specs if o.observable == obs]
        p = figures.verification_curves(r.steps, curves, figdir / f"verify-{safe_name(sid)}-{slug(obs)}.png",
                                        observable=obs, thresholds=thr,
                                        title=f"{obs}: baseline vs patterned over training")
        lines += [f"![{obs}](figures/{p.name})", ""]
    return lines


def onset_lines(arms: dict[str, ArmResult]) -> list[str]:
    """The onset table: per arm (the random ones are in the validation's table) and observable."""
    rows = []
    for name, arm in arms.items():
        if name.startswith("random"):
            continue
        for obs, o in arm.onset.items():
            holds = o.final_holds
            rows.append([name, obs, onset_cell(o), o.per_seed, o.absent,
                         f"{sum(holds)}/{len(holds)}" if holds else None])
    if not rows:
        return []
    return ["Onset (first step the observable crosses its threshold; absent = never within "
            "the horizon and counted at the horizon, so a mean with absent seeds is a lower "
            "bound, `>=`; at horizon = seeds whose final value meets the threshold):", "",
            table(["arm", "observable", "mean onset", "per seed", "absent", "at horizon"], rows), ""]

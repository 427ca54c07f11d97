"""The verify step's report section (:func:`section`): the curves of the tracked observables, the
onsets and the calibration, then the validation part: headline figures, the two validation plots,
the regression baseline at its compute, the verdict per target and the table of every arm.

Reads only the verify step's summary (``validation``, ``verdict``, ``arms``), so ``patc report``
re-renders it. The figures' meaning is in ``docs/validation.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patternlang.runtime import figures
from patternlang.runtime.markdown import Section, slug, table
from patternlang.runtime.rundir import safe_name


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


def onset_cell(o: dict | None) -> str:
    """An arm's onset as the one mean used everywhere: the censored mean, ``>=`` when a seed never
    crossed (absent seeds count at the horizon, so the mean is a lower bound)."""
    if not o or o.get("censored_mean") is None:
        return "—"
    return f"{'>=' if o['absent'] else ''}{o['censored_mean']:.0f}"


def headline(v: dict) -> list[str]:
    """Sentences for the validation figures with their bootstrap intervals over seeds."""
    lines = [f"- **Not a comparison**: {why}." for why in v.get("degenerate") or []]
    if v.get("random_arms"):
        lines.append(f"- Patterned vs {v['random_arms']} random arms of the same step length, on the "
                     f"{v['objective']}: beats {_fmt(v['random_percentile'], '.0%')}"
                     f"{_ci(v.get('random_percentile_ci'), True)} (ties half; 95% bootstrap "
                     "interval over seeds).")
        lines.append(f"- On the realized patterning objective (every target with its weight, holds "
                     f"included): beats {_fmt(v['objective_percentile'], '.0%')}"
                     f"{_ci(v.get('objective_percentile_ci'), True)}.")
    lines.append(f"- LDS (Spearman of predicted vs realized change of {v['lds_target']} over "
                 f"{len({p['arm'] for p in v['points']})} arms, at step {v['evaluated_at']}, "
                 f"{v['evaluated_at_reason']}): {_fmt(v['lds_spearman'], '.2f')}"
                 f"{_ci(v.get('lds_spearman_ci'))}; sign agreement "
                 f"{_fmt(v['sign_agreement'], '.0%')}{_ci(v.get('sign_agreement_ci'), True)} over "
                 f"the {v['sign_resolved_arms']} arms whose prediction exceeds its SE.")
    if v.get("lds_onset_spearman") is not None:
        lines.append(f"- LDS on the onset (Spearman of the predicted progress of {v['lds_target']} "
                     f"vs how much earlier — or later, for a delay — each arm's onset comes than "
                     f"the baseline's): {_fmt(v['lds_onset_spearman'], '.2f')}"
                     f"{_ci(v.get('lds_onset_spearman_ci'))}.")
    return lines


def regression_lines(r: dict, outcomes: dict) -> list[str]:
    """The regression baseline: its compute beside the patterning's, the fit's quality."""
    pc, rc = r["compute"]["patterning"], r["compute"]["regression"]
    ratio = rc["equivalent_fwd_bwd"] / pc["equivalent_fwd_bwd"] if pc["equivalent_fwd_bwd"] else None
    rows = [f"| patterning | {pc['checkpoint_fwd_bwd'] + pc['sampling_fwd_bwd']:,} | "
            f"{pc['observation_fwd']:,} | {pc['equivalent_fwd_bwd']:,.0f} |",
            f"| regression ({r['runs']} proxies x {r['steps']} steps) | "
            f"{rc['training_fwd_bwd']:,} | {rc['observation_fwd']:,} | "
            f"{rc['equivalent_fwd_bwd']:,.0f} |"]
    fits = "; ".join(f"{f['target']}: {f['model']}, leave-one-out R² {f['r2_loo']:.2f}"
                     for f in r["fits"])
    why = r.get("degenerate") or []
    name = ("Regression arm — **not a black-box baseline**: " + "; ".join(why) + ". Its"
            if why else "Regression baseline")
    return ["", f"{name} (compute ratio regression ÷ patterning "
            f"{_fmt(ratio, '.2f')}; forwards count a third):", "",
            "| method | fwd+bwd sequences | fwd sequences | equivalent fwd+bwd |",
            "| --- | --- | --- | --- |", *rows, "",
            f"Fit: {fits}. Solution on the fit: {r['solution']['status']}; outcome "
            f"{_fmt(outcomes.get('regression'))} vs patterned {_fmt(outcomes.get('patterned'))}.", ""]


def verdict_lines(vd: dict) -> list[str]:
    """The verdict table (realized = patterned − baseline per seed)."""
    rows = ["| target | desired Δ | predicted Δ ± SE | realized Δ ± sd (step "
            f"{vd['evaluated_at']}) | at the horizon | sign agrees | verdict |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in vd["targets"]:
        sign = sign_cell(t["sign_agrees"])
        h = t["at_horizon"]
        rows.append(f"| {t['target']} | {t['desired']:+.3g} | {_fmt(t['predicted'], '+.2g')} ± "
                    f"{_fmt(t['se'], '.2g')} | {t['realized_mean']:+.3g} ± {t['realized_sd']:.2g} | "
                    f"{h['realized_mean']:+.3g} ± {h['realized_sd']:.2g} | {sign} | {t['verdict']} |")
    return ["", "Verdict per target (realized: per-seed paired difference patterned − baseline; a "
            "hold held when |realized| ≤ max(2·sd of the baseline over seeds, 2% of its value)):",
            "", *rows, ""]


def arms_table(vd: dict, arms: dict, onset_name: str | None) -> list[str]:
    """Every arm's weights, onset (one mean, ``>=`` when censored) and target values."""
    comps = list(vd["arms"][0]["weights"]) if vd["arms"] else []
    labels = list(vd["arms"][0]["targets"]) if vd["arms"] else []
    head = ["arm", *comps, "onset" if onset_name else None,
            *[f"{t} (step {vd['evaluated_at']})" for t in labels]]
    head = [h for h in head if h is not None]
    rows = [f"| {' | '.join(head)} |", f"| {' | '.join('---' for _ in head)} |"]
    for a in vd["arms"]:
        cells = [a["arm"], *[f"{a['weights'][c]:.3f}" for c in comps]]
        if onset_name:
            cells.append(onset_cell(arms[a["arm"]]["onset"].get(onset_name)))
        cells += [f"{a['targets'][t]:.4g}" for t in labels]
        rows.append(f"| {' | '.join(cells)} |")
    return ["Every arm (weights, onset mean with absent seeds at the horizon, targets' mean over "
            "seeds):", "", *rows, ""]


def validation_section(sid: str, sm: dict, figdir: Path, slug) -> list[str]:
    """The validation lines of a verify section (empty without a validation summary)."""
    v, vd = sm.get("validation"), sm.get("verdict")
    if not v:
        return []
    lines = ["", f"#### Validation: `{sid}`", "", *headline(v), ""]
    pts = [p for p in v["points"] if p["target"] == v["lds_target"]]
    p1 = figures.predicted_vs_realized(pts, figdir / f"lds-{slug(sid)}.png", target=v["lds_target"],
                                       title=f"LDS = {_fmt(v['lds_spearman'], '.2f')}")
    lines += [f"![predicted vs realized](figures/{p1.name})", ""]
    if v.get("random_arms"):
        label = v["objective"] + (" (lower is better)" if v["outcome_lower_is_better"]
                                  else " (higher is better)")
        p2 = figures.arm_outcomes(v["outcomes"], figdir / f"random-{slug(sid)}.png", label=label)
        lines += [f"![random arms](figures/{p2.name})", ""]
    if v.get("regression"):
        lines += regression_lines(v["regression"], v["outcomes"])
    if vd:
        onset = sm["onset_specs"][0]["observable"] if sm.get("onset_specs") else None
        lines += verdict_lines(vd) + arms_table(vd, sm["arms"], onset)
    return lines


def section(s: Section) -> list[str]:
    """The verify step's report section: the curves of every tracked observable, onsets, calibration and the validation."""
    sid, sm, figdir = s.step_id, s.data, s.figdir
    lines = [f"### Verification: `{sid}`", ""]
    arms = sm["arms"]
    for obs in sm.get("plotted", []):
        curves = {a: np.asarray(v["curves"][obs], float) for a, v in arms.items()
                  if obs in v.get("curves", {}) and not a.startswith("random")}
        if not curves:
            continue
        thr = [o["threshold"] for o in sm.get("onset_specs", []) if o["observable"] == obs]
        p = figures.verification_curves(sm["steps"], curves, figdir / f"verify-{safe_name(sid)}-{slug(obs)}.png",
                                        observable=obs, thresholds=thr,
                                        title=f"{obs}: baseline vs patterned over training")
        lines += [f"![{obs}](figures/{p.name})", ""]
    rows = []
    for arm, v in arms.items():
        if arm.startswith("random"):
            continue  # in the validation's table of every arm
        for obs, o in v.get("onset", {}).items():
            holds = o.get("final_holds")
            rows.append([arm, obs, onset_cell(o), o["per_seed"], o["absent"],
                         f"{sum(holds)}/{len(holds)}" if holds else None])
    if rows:
        lines += ["Onset (first step the observable crosses its threshold; absent = never within "
                  "the horizon and counted at the horizon, so a mean with absent seeds is a lower "
                  "bound, `>=`; at horizon = seeds whose final value meets the threshold):", "",
                  table(["arm", "observable", "mean onset", "per seed", "absent", "at horizon"],
                         rows), ""]
    for k, v in (sm.get("headline") or {}).items():
        lines.append(f"- {k}: {v}")
    cal = sm.get("calibration") or []
    if cal:
        lines += ["", "Calibration (realized change at the horizon, patterned − baseline, vs the "
                  "solver's posterior prediction):", "",
                  table(["observable", "predicted Δ", "± SE", "realized Δ", "realized ÷ predicted",
                          "sign agrees"], [[c["observable"], c["predicted"], c.get("se"), c["realized"],
                                            c["ratio"], sign_cell(c["sign_agrees"])] for c in cal]), ""]
    return lines + validation_section(sid, sm, figdir, slug)

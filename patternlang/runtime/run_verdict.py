"""One verdict per run: for every target of every solve, whether to trust the weights, and why.

The evidence, in the order it becomes available:

1. **Resolved on the movable step** — the target's χ row, projected on the steps the solver can
   take, differs from zero beyond its noise (movable-step |z| >= 3), or for a ``hold`` its
   predicted change fits its tolerance at 3 SE (:mod:`patternlang.engine.solve.resolved`).
2. **Reproducible** — the solve repeated on each half of the chains gives steps with cosine >= 0.7
   (:func:`~patternlang.runtime.steps.trust.split_half`; needs >= 4 chains).
3. **Posterior check** — sampled at the solved weights, the target moved as the linear response
   predicted: not the opposite sign, |z| < 3 (coupled estimator only).
4. **Verification** — retrained, the patterned arm reached the target (or held it), beat the
   random arms of its length (percentile) and the prediction ranks the arms (LDS).

A target is **trusted** when every piece of evidence that exists says yes; the first that says no
decides the verdict, named with its number and a remedy. Evidence that was not gathered (no
verification, no posterior check) is said, not assumed. The run is trusted when every target is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patternlang.plan.ir import Plan
from patternlang.runtime.result_base import Record, Sparse
from patternlang.runtime.results_types import (ChiResult, SolveResult, StepResult, TargetResolved,
                                               VerifyResult)
from patternlang.runtime.validation_types import ValidationResult

TRUST, DISTRUST = "trust", "do not trust"
MIN_COSINE = 0.7


@dataclass(frozen=True)
class _Target:
    """A target of a solve's first round: its resolution row (``None`` for a move target, which
    has none: it steps along a direction instead of asking for a change)."""

    label: str
    kind: str
    row: TargetResolved | None = None


Evidence = tuple[list[str], tuple[str, str] | None]  # the lines said, and (number, remedy) if it fails


class TargetTrust(Sparse):
    """One target's verdict (``results.json``: ``verdict.targets[i]``): the evidence in words, and
    when a piece says no, its number (``failed``) and what to do (``remedy``); ``note`` when it was
    not verified by retraining. Sparse: the keys a verdict does not have stay out of the JSON."""

    solve: str
    target: str
    kind: str
    trust: str
    evidence: list[str]
    failed: int | None = None
    remedy: str | None = None
    note: str | None = None


class RunVerdict(Record):
    """The run's verdict (``results.json``: ``verdict``): trusted when every target is."""

    trust: str
    targets: list[TargetTrust]
    summary: str


def run_verdict(results: Mapping[str, StepResult], plan: Plan) -> RunVerdict | None:
    """The verdict of a run from the typed results of the plan's completed steps
    (:func:`patternlang.runtime.report.load_results`); None when no solve completed."""
    solves = {s.id: r for s in plan.steps if isinstance(r := results.get(s.id), SolveResult)}
    if not solves:
        return None
    verifies = {s.solve: s.id for s in plan.steps if s.kind == "verify"}
    inputs = {s.id: s.susceptibilities for s in plan.steps if s.kind == "solve"}
    targets = []
    for sid, sol in solves.items():
        ver = results.get(verifies.get(sid, ""))
        coupled = any(isinstance(chi := results.get(x), ChiResult) and chi.estimator == "coupled"
                      for x in inputs.get(sid, []))
        targets += [_target(sid, sol, t, ver if isinstance(ver, VerifyResult) else None, coupled)
                    for t in _targets(sol)]
    trusted = all(t.trust == TRUST for t in targets)
    return RunVerdict(trust=TRUST if trusted else DISTRUST, targets=targets,
                      summary=_summary(targets, trusted))


def _targets(sol: SolveResult) -> list[_Target]:
    """The first round's targets: its resolution rows, then its move targets (no row)."""
    if not sol.rounds:
        return []
    first = sol.rounds[0].solve
    return ([_Target(r.label, r.kind, r) for r in first.resolved]
            + [_Target(t.label, "move") for t in first.targets if t.kind == "move"])


def _target(sid: str, sol: SolveResult, t: _Target, ver: VerifyResult | None,
            coupled: bool) -> TargetTrust:
    """One target's verdict: the evidence in order, the first that says no, and its remedy."""
    why, fail = [], None
    for evidence in (_resolution(t, coupled), _reproducibility(sol, coupled),
                     _posterior_check(sol, t), _verification(t.label, t.kind, ver)):
        if evidence is not None:
            lines, failed = evidence
            why += lines
            fail = fail or failed
    if not coupled and t.kind != "move":
        why.append("estimator: covariance — its standard errors leave out the probe-set variance "
                   "(bench/chi_efficiency.py); estimator = coupled(...) measures the rows that "
                   "decide weights with every source of noise")
    out: dict[str, Any] = {"solve": sid, "target": t.label, "kind": t.kind,
                           "trust": DISTRUST if fail else TRUST, "evidence": why}
    if fail:
        out |= {"failed": int(fail[0]), "remedy": fail[1]}
    elif ver is None:
        out["note"] = "not verified by retraining (add a verify block)"
    return TargetTrust.model_validate(out)


def _resolution(t: _Target, coupled: bool) -> Evidence | None:
    """1. Resolved on the movable step (a hold: its predicted change within its tolerance); a move
    target has no row and no resolution."""
    res = t.row
    if res is None or t.kind == "move":
        return None
    ok = bool(res.resolved)
    if t.kind == "hold" and res.tolerance is not None:
        line = (f"hold predicted {res.predicted:+.3g} ± {res.predicted_se:.2g} "
                f"within tolerance {res.tolerance:.3g}: {'yes' if ok else 'no'}")
    else:
        mz = res.movable_z
        line = (f"resolved on the movable step: {'yes' if ok else 'no'} (|z| = "
                f"{'n/a' if mz is None else f'{mz:.1f}'} over {res.dof} free "
                f"direction{'s' if res.dof != 1 else ''})")
    fail = None if ok else ("1", "its chi row is noise on the steps the solver can take: "
                            + ("" if coupled else "use estimator = coupled(...), ")
                            + "more chains or draws, or a later checkpoint where it responds")
    return [line], fail


def _reproducibility(sol: SolveResult, coupled: bool) -> Evidence:
    """2. The split-half solve: cosine between the two halves' steps >= MIN_COSINE."""
    rep = sol.reproducibility
    if rep is None:
        return ["reproducible: not measured (needs >= 4 chains)"], None
    cos = rep.cosine
    ok = cos is not None and cos >= MIN_COSINE
    line = (f"reproducible: {'yes' if ok else 'no'} (split-half cosine "
            f"{'n/a' if cos is None else f'{cos:.2f}'})")
    fail = None if ok else ("2", "two halves of the chains give different weights: more chains or "
                            "draws" + ("" if coupled else ", or the coupled estimator"))
    return [line], fail


def _posterior_check(sol: SolveResult, t: _Target) -> Evidence:
    """3. Sampled at the solved weights, the target moved as predicted: not the opposite sign
    (when the measurement is resolved, |z| >= 2), and within 3 SE of the prediction."""
    row = next((r for r in sol.posterior_check or [] if r.target == t.label), None)
    if row is None:
        return ["posterior check: not run (coupled estimator only)"], None
    if t.kind == "hold":
        return [], None
    opposite = (row.measured_z or 0) and abs(row.measured_z) >= 2 and \
        (row.measured or 0) * (row.predicted or 0) < 0
    z, ratio = row.z, row.ratio
    far = z is not None and abs(z) >= 3
    line = (f"posterior check: measured {row.measured:+.3g} ± {row.measured_se:.2g} vs "
            f"predicted {row.predicted:+.3g} (ratio {'n/a' if ratio is None else f'{ratio:.2g}'}, "
            f"z {'n/a' if z is None else f'{z:+.1f}'})")
    fail = ("3", "sampled at the solved weights the target did not move as predicted: a smaller "
                 "trust region, or more draws") if opposite or far else None
    return [line], fail


def _verification(label: str, kind: str, ver: VerifyResult | None) -> Evidence:
    """4. Retrained, the patterned arm reached (a hold: held) the target; the validation arms."""
    if ver is None:
        return ["verification: not run"], None
    why, fail = [], None
    verdict = next((t for t in (ver.verdict.targets if ver.verdict is not None else [])
                    if t.target == label), None)
    if verdict is not None:
        ok = verdict.held if kind == "hold" else verdict.reached
        why.append(f"verification: {verdict.verdict}")
        if ok is False:
            fail = ("4", "retrained, the patterned arm did not reach the target: the first-order "
                    "step may be too short or point the wrong way; check the posterior check and "
                    "the validation arms")
    if ver.validation is not None and kind != "hold":
        why.append(_validation_line(ver.validation))
    return why, fail


def _validation_line(val: ValidationResult) -> str:
    """The validation arms in one line; without random arms it says so rather than 'n/a'."""
    pct, lds = val.random_percentile, val.lds_spearman
    parts = ["no random arms (add random(12) to rank the step against chance)" if pct is None
             else f"beats {pct:.0%} of random arms"]
    if lds is not None:
        parts.append(f"LDS {lds:.2f}")
    return "validation: " + ", ".join(parts)


def _summary(targets: list[TargetTrust], trusted: bool) -> str:
    if trusted:
        return (f"trust: all {len(targets)} target(s) resolved on the movable step and reproducible"
                + ("" if all(t.note is None for t in targets) else "; not verified by retraining"))
    bad = [t for t in targets if t.trust != TRUST]
    return "do not trust: " + "; ".join(f"'{t.target}' ({t.remedy})" for t in bad)


def verdict_lines(verdict: RunVerdict | None) -> list[str]:
    """The verdict as console / Markdown lines."""
    if not verdict:
        return []
    lines = [f"VERDICT: {verdict.summary}"]
    for t in verdict.targets:
        lines.append(f"  {t.solve}: '{t.target}': {t.trust.upper()}")
        lines += [f"    - {e}" for e in t.evidence]
        if t.remedy:
            lines.append(f"    what to do: {t.remedy}")
    return lines


__all__ = ["run_verdict", "verdict_lines", "RunVerdict", "TargetTrust", "TRUST", "DISTRUST"]

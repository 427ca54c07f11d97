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

from typing import Any

from patternlang.plan.ir import Plan

TRUST, DISTRUST = "trust", "do not trust"
MIN_COSINE = 0.7


def run_verdict(doc: dict, plan: Plan) -> dict[str, Any] | None:
    """The verdict block of a results document (None when the run has no solve)."""
    solves = doc.get("solves", {})
    if not solves:
        return None
    verifies = {s.solve: s.id for s in plan.steps if s.kind == "verify"}
    targets = []
    inputs = {s.id: s.susceptibilities for s in plan.steps if s.kind == "solve"}
    for sid, sol in solves.items():
        ver = doc.get("verification", {}).get(verifies.get(sid, ""), None)
        coupled = any((doc.get("susceptibilities", {}).get(x) or {}).get("estimator") == "coupled"
                      for x in inputs.get(sid, []))
        targets += [_target(sid, sol, t, ver, coupled) for t in _targets(sol)]
    trusted = all(t["trust"] == TRUST for t in targets)
    return {"trust": TRUST if trusted else DISTRUST, "targets": targets,
            "summary": _summary(targets, trusted)}


def _targets(sol: dict) -> list[dict]:
    """The first round's per-target records: resolution rows, then move targets (no row)."""
    first = (sol.get("rounds") or [{}])[0].get("solve") or {}
    rows = list(first.get("resolved") or [])
    rows += [{"label": t["label"], "kind": "move"} for t in first.get("targets") or []
             if t.get("kind") == "move"]
    return rows


def _target(sid: str, sol: dict, res: dict, ver: dict | None, coupled: bool) -> dict:
    label, kind = res["label"], res.get("kind", "raise")
    why, fail = [], None
    # 1. resolution
    if kind != "move":
        ok = bool(res.get("resolved"))
        if kind == "hold" and res.get("tolerance") is not None:
            why.append(f"hold predicted {res['predicted']:+.3g} ± {res['predicted_se']:.2g} "
                       f"within tolerance {res['tolerance']:.3g}: {'yes' if ok else 'no'}")
        else:
            mz = res.get("movable_z")
            why.append(f"resolved on the movable step: {'yes' if ok else 'no'} (|z| = "
                       f"{'n/a' if mz is None else f'{mz:.1f}'} over {res.get('dof')} free "
                       f"direction{'s' if res.get('dof') != 1 else ''})")
        if not ok:
            fail = fail or ("1", "its chi row is noise on the steps the solver can take: "
                            + ("" if coupled else "use estimator = coupled(...), ")
                            + "more chains or draws, or a later checkpoint where it responds")
    # 2. reproducibility
    rep = sol.get("reproducibility")
    if rep is None:
        why.append("reproducible: not measured (needs >= 4 chains)")
    else:
        cos = rep.get("cosine")
        ok = cos is not None and cos >= MIN_COSINE
        why.append(f"reproducible: {'yes' if ok else 'no'} (split-half cosine "
                   f"{'n/a' if cos is None else f'{cos:.2f}'})")
        if not ok:
            fail = fail or ("2", "two halves of the chains give different weights: more chains or "
                            "draws" + ("" if coupled else ", or the coupled estimator"))
    # 3. posterior check
    row = next((r for r in sol.get("posterior_check") or [] if r["target"] == label), None)
    if row is None:
        why.append("posterior check: not run (coupled estimator only)")
    elif kind != "hold":
        opposite = (row.get("measured_z") or 0) and abs(row["measured_z"]) >= 2 and \
            (row["measured"] or 0) * (row["predicted"] or 0) < 0
        z, ratio = row.get("z"), row.get("ratio")
        far = z is not None and abs(z) >= 3
        why.append(f"posterior check: measured {row['measured']:+.3g} ± {row['measured_se']:.2g} vs "
                   f"predicted {row['predicted']:+.3g} (ratio "
                   f"{'n/a' if ratio is None else f'{ratio:.2g}'}, z "
                   f"{'n/a' if z is None else f'{z:+.1f}'})")
        if opposite or far:
            fail = fail or ("3", "sampled at the solved weights the target did not move as "
                            "predicted: a smaller trust region, or more draws")
    # 4. verification
    why_v, fail_v = _verification(label, kind, ver)
    why += why_v
    fail = fail or fail_v
    if not coupled and kind != "move":
        why.append("estimator: covariance — its standard errors leave out the probe-set variance "
                   "(bench/chi_efficiency.py); estimator = coupled(...) measures the rows that "
                   "decide weights with every source of noise")
    out = {"solve": sid, "target": label, "kind": kind, "trust": DISTRUST if fail else TRUST,
           "evidence": why}
    if fail:
        out["failed"] = int(fail[0])
        out["remedy"] = fail[1]
    elif ver is None:
        out["note"] = "not verified by retraining (add a verify block)"
    return out


def _verification(label: str, kind: str, ver: dict | None) -> tuple[list[str], tuple | None]:
    if ver is None:
        return ["verification: not run"], None
    why, fail = [], None
    verdict = next((t for t in (ver.get("verdict") or {}).get("targets") or []
                    if t["target"] == label), None)
    if verdict is not None:
        ok = verdict.get("held") if kind == "hold" else verdict.get("reached")
        why.append(f"verification: {verdict['verdict']}")
        if ok is False:
            fail = ("4", "retrained, the patterned arm did not reach the target: the first-order "
                    "step may be too short or point the wrong way; check the posterior check and "
                    "the validation arms")
    val = ver.get("validation")
    if val is not None and kind != "hold":
        why.append(_validation_line(val))
    return why, fail


def _validation_line(val: dict) -> str:
    """The validation arms in one line; without random arms it says so rather than 'n/a'."""
    pct, lds = val.get("random_percentile"), val.get("lds_spearman")
    parts = ["no random arms (add random(12) to rank the step against chance)" if pct is None
             else f"beats {pct:.0%} of random arms"]
    if lds is not None:
        parts.append(f"LDS {lds:.2f}")
    return "validation: " + ", ".join(parts)


def _summary(targets: list[dict], trusted: bool) -> str:
    if trusted:
        return (f"trust: all {len(targets)} target(s) resolved on the movable step and reproducible"
                + ("" if all("note" not in t for t in targets) else "; not verified by retraining"))
    bad = [t for t in targets if t["trust"] != TRUST]
    return "do not trust: " + "; ".join(f"'{t['target']}' ({t['remedy']})" for t in bad)


def verdict_lines(verdict: dict | None) -> list[str]:
    """The verdict as console / Markdown lines."""
    if not verdict:
        return []
    lines = [f"VERDICT: {verdict['summary']}"]
    for t in verdict["targets"]:
        lines.append(f"  {t['solve']}: '{t['target']}': {t['trust'].upper()}")
        lines += [f"    - {e}" for e in t["evidence"]]
        if t.get("remedy"):
            lines.append(f"    what to do: {t['remedy']}")
    return lines


__all__ = ["run_verdict", "verdict_lines", "TRUST", "DISTRUST"]

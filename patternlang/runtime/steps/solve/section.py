"""The solve step's report section: the weights (baseline, new, pseudo-inverse), the targets'
predicted changes, the modes of move targets, resolution, and every round of iterative patterning."""

from __future__ import annotations

from pathlib import Path

from patternlang.runtime import figures
from patternlang.runtime.markdown import Section, cell, table
from patternlang.runtime.results_types import SolveRecord, SolveResult
from patternlang.runtime.rundir import safe_name


def section(s: Section) -> list[str]:
    """The solve (round 1's program; with rounds > 1 also every round's weights). The weights
    table shows the baseline h and the final h' (after all rounds)."""
    sid, res = s.step_id, s.of(SolveResult)
    sol = res.rounds[0].solve
    lines = [f"### Solution: `{sid}` ({sol.status})", ""]
    lines += weights_lines(sid, res, s.figdir) + per_sample_lines(sol)
    lines += [table(["target", "desired Δ", "predicted Δ (posterior)", "± SE", "achieved"],
                    [[t.label, t.desired, t.predicted, t.se, t.achieved_fraction]
                     for t in sol.targets]), ""]
    lines += _modes_lines(sol)
    lines += [f"- {m}" for m in sol.diagnostics.messages]
    if sol.resolved:
        lines += ["", table(["target", "largest |z| of its χ row", "resolved (|z| ≥ 3)"],
                            [[r.label, r.max_abs_z, r.resolved] for r in sol.resolved]), ""]
    lines += [f"- warning: {w}" for r in res.rounds for w in r.solve.warnings]
    lines += rounds_lines(res, sol.components)
    lines += ["", "Predicted changes are first-order changes of *posterior* expectations; how they "
              "translate into training-time change is measured by verification (calibration).", ""]
    return lines


def weights_lines(sid: str, res: SolveResult, figdir: Path) -> list[str]:
    """The weights figure and table: the baseline h, the final h', the change and, but for a
    per-sample solve, round 1's pseudo-inverse solution."""
    sol = res.rounds[0].solve
    comps = sol.components
    h0, h1 = res.baseline, res.final_weights
    pw = sol.pinv.weights if sol.pinv is not None else None  # none for a per-sample solve
    p = figures.weights_comparison(comps, [h0[c] for c in comps], [h1[c] for c in comps],
                                   figdir / f"weights-{safe_name(sid)}.png",
                                   pinv=[pw[c] for c in comps] if pw else None)
    pinv = "pseudo-inverse h" if len(res.rounds) == 1 else "pseudo-inverse h (round 1)"
    return [f"![weights](figures/{p.name})", "",
            table(["component", "current h", "new h'", "Δh", pinv],
                  [[c, h0[c], h1[c], h1[c] - h0[c], pw[c] if pw else None] for c in comps]), ""]


def per_sample_lines(sol: SolveRecord) -> list[str]:
    """A per-sample solve: its atoms and pools, how far the weights moved, where they are."""
    ps = sol.per_sample
    if ps is None:
        return []
    return [f"Per-sample patterning over {ps.atoms} atoms (pools: "
            + ", ".join(f"{k} {n} examples" for k, n in ps.pools.items())
            + f"): KL(p'||p0) = {cell(ps.kl)}, ||p' - p0|| = {cell(ps.l2)}, "
            f"solved by {sol.solver} in {sol.seconds or 0:.2f} s; per-example "
            f"weights in `{ps.file}` of the step directory.", ""]


def rounds_lines(res: SolveResult, comps: list[str]) -> list[str]:
    """Iterative patterning (rounds > 1): every round's weights."""
    if len(res.rounds) <= 1:
        return []
    return ["", "Iterative patterning (χ re-estimated and the problem re-solved each round; "
            "the targets above are round 1's):", "",
            table(["round"] + comps, [[r.round] + [r.weights[c] for c in comps] for r in res.rounds])]


def _modes_lines(sol: SolveRecord) -> list[str]:
    """Move targets: the principal mode each chose and how far the realized step turned from it."""
    if not sol.modes:
        return []
    angle = {t.label: t.angle_deg for t in sol.targets}
    comps = sol.components
    return ["Steps along principal directions of χ (requested unit direction per component; the "
            "angle is between the requested and the realized step):", "",
            table(["target", "mode", "gain s", "loading", "angle (deg)"] + comps,
                  [[m.label, m.mode, m.singular_value, m.loading, angle.get(m.label)]
                   + [m.direction[c] for c in comps] for m in sol.modes]), ""]

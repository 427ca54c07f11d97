"""The sample step's report section: LLC per center with the sampler's diagnostics, the chain
traces, the ``step = auto`` scan (table and figure) and the ``draws = auto`` chunk trace (draws and
best |z| per targeted row after each chunk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patternlang.runtime import figures
from patternlang.runtime.markdown import Section, cell, table
from patternlang.runtime.results_types import SampleResult
from patternlang.runtime.rundir import safe_name
from patternlang.runtime.sample_types import DrawsAutoRecord, StepScanRecord, TargetRowRecord


def section(s: Section) -> list[str]:
    """The sample step's report section: nβ and the LLC, a row per center (LLC, R-hat, ESS, ...),
    the warnings, the scan of ``step = auto``, the chunks of ``draws = auto`` and the traces."""
    sid, r = s.step_id, s.of(SampleResult)
    lines = [f"### LLC and sampler: `{sid}`", "",
             f"nβ = {r.nbeta:.4g}; LLC = {r.llc_mean:.4g} ± {r.llc_se:.3g} (mean ± SE "
             "over chains and centers).", ""]
    rows = [[c.label, c.llc_mean, c.llc_se, c.rhat, c.ess, c.trend_ok, c.publishable,
             len(c.divergent_chains)] for c in r.centers]
    lines += [table(["center", "LLC", "SE", "R-hat", "ESS", "equilibrated", "publishable (R-hat ≤ 1.01, "
                      "ESS ≥ 400)", "diverged chains"], rows), ""]
    for w in r.warnings:
        lines.append(f"- warning: {w}")
    lines += scan_lines(sid, r.step_scan, s.figdir) + draws_lines(r.draws_auto)
    traces = s.dir.file("traces.npz")
    if traces.exists():
        data = np.load(traces)
        p = figures.chain_traces({k: data[k] for k in data.files}, s.figdir / f"traces-{safe_name(sid)}.png",
                                 title=f"{sid}: per-chain traces")
        lines += ["", f"![chain traces](figures/{p.name})", ""]
    return lines


def scan_lines(sid: str, scan: StepScanRecord | None, figdir: Path) -> list[str]:
    """``step = auto``: the scan's table and figure (λ̂ against ε, the plateau and the choice; and
    the targeted χ rows, component by component, when the step feeds a patterning)."""
    if scan is None:
        return []
    plateau = ", ".join(f"{e:.3g}" for e in scan.plateau) if scan.plateau else "none"
    p = figures.step_scan(scan, figdir / f"step-scan-{sid}.png", title=f"{sid}: step = auto")
    labels = list(next((pt.rows for pt in scan.rows if pt.rows), {}))
    judged = " and the targeted chi rows (nβ·χ per component, ± SE)" if labels else ""
    return ["", f"step = auto chose ε = {scan.chosen:.3g} (plateau of λ̂{judged}: {plateau}):", "",
            table(["ε", "LLC", "SE", "stable", "reason", *labels],
                  [[pt.step_size, pt.llc, pt.llc_se, pt.stable, pt.reason,
                    *(_row_cell((pt.rows or {}).get(k)) for k in labels)] for pt in scan.rows]),
            "", f"![step scan](figures/{p.name})", ""]


def _row_cell(row: TargetRowRecord | None) -> str | None:
    """A targeted row at one ε: ``value ± SE`` per component."""
    if row is None:
        return None
    return "; ".join(f"{c}: {cell(v)} ± {cell(s)}" for c, v, s in zip(row.components, row.value, row.se))


def draws_lines(auto: DrawsAutoRecord | None) -> list[str]:
    """``draws = auto``: the rule, the draws used, and each chunk's best |z| per row."""
    if auto is None:
        return []
    labels = list(auto.chunks[0].best_abs_z) if auto.chunks else []
    what = ("the targeted chi rows (best |z| over components)" if auto.rule == "targets"
            else "the LLC (λ̂ / SE per center)")
    verdict = "resolved" if auto.resolved else "budget spent, not resolved"
    return ["", f"draws = auto(z={auto.z:g}, max={auto.max}, chunk={auto.chunk}) on "
            f"{what}: {auto.draws} draws per chain, {verdict}.", "",
            table(["draws", *labels], [[c.draws, *(c.best_abs_z[k] for k in labels)]
                                       for c in auto.chunks]), ""]

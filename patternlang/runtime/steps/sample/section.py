"""The sample step's report section: LLC per center with the sampler's diagnostics, the chain
traces, the ``step = auto`` scan (table and figure) and the ``draws = auto`` chunk trace (draws and
best |z| per targeted row after each chunk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patternlang.runtime import figures
from patternlang.runtime.markdown import Section, cell, table
from patternlang.runtime.rundir import safe_name


def section(s: Section) -> list[str]:
    """"""
    sid, sm, figdir, sdir = s.step_id, s.data, s.figdir, s.dir
    lines = [f"### LLC and sampler: `{sid}`", "",
             f"nβ = {sm['nbeta']:.4g}; LLC = {sm['llc_mean']:.4g} ± {sm['llc_se']:.3g} (mean ± SE "
             "over chains and centers).", ""]
    rows = [[c["label"], c["llc_mean"], c["llc_se"], c.get("rhat"), c.get("ess"), c.get("trend_ok"),
             c.get("publishable"), len(c.get("divergent_chains", []))] for c in sm["centers"]]
    lines += [table(["center", "LLC", "SE", "R-hat", "ESS", "equilibrated", "publishable (R-hat ≤ 1.01, "
                      "ESS ≥ 400)", "diverged chains"], rows), ""]
    for w in sm.get("warnings", []):
        lines.append(f"- warning: {w}")
    lines += scan_lines(sid, sm.get("step_scan"), figdir) + draws_lines(sm.get("draws_auto"))
    traces = sdir.file("traces.npz")
    if traces.exists():
        data = np.load(traces)
        p = figures.chain_traces({k: data[k] for k in data.files}, figdir / f"traces-{safe_name(sid)}.png",
                                 title=f"{sid}: per-chain traces")
        lines += ["", f"![chain traces](figures/{p.name})", ""]
    return lines


def scan_lines(sid: str, scan: dict | None, figdir: Path) -> list[str]:
    """``step = auto``: the scan's table and figure (λ̂ against ε, the plateau and the choice; and
    the targeted χ rows, component by component, when the step feeds a patterning)."""
    if not scan:
        return []
    plateau = ", ".join(f"{e:.3g}" for e in scan["plateau"]) if scan["plateau"] else "none"
    p = figures.step_scan(scan, figdir / f"step-scan-{sid}.png", title=f"{sid}: step = auto")
    labels = list(next((r["rows"] for r in scan["rows"] if r.get("rows")), {}))
    judged = " and the targeted chi rows (nβ·χ per component, ± SE)" if labels else ""
    return ["", f"step = auto chose ε = {scan['chosen']:.3g} (plateau of λ̂{judged}: {plateau}):", "",
            table(["ε", "LLC", "SE", "stable", "reason", *labels],
                  [[r["step_size"], r["llc"], r["llc_se"], r["stable"], r.get("reason"),
                    *(_row_cell((r.get("rows") or {}).get(k)) for k in labels)] for r in scan["rows"]]),
            "", f"![step scan](figures/{p.name})", ""]


def _row_cell(row: dict | None) -> str | None:
    """A targeted row at one ε: ``value ± SE`` per component."""
    if not row:
        return None
    return "; ".join(f"{c}: {cell(v)} ± {cell(s)}" for c, v, s in zip(row["components"], row["value"], row["se"]))


def draws_lines(auto: dict | None) -> list[str]:
    """``draws = auto``: the rule, the draws used, and each chunk's best |z| per row."""
    if not auto:
        return []
    labels = list(auto["chunks"][0]["best_abs_z"]) if auto["chunks"] else []
    what = ("the targeted chi rows (best |z| over components)" if auto["rule"] == "targets"
            else "the LLC (λ̂ / SE per center)")
    verdict = "resolved" if auto["resolved"] else "budget spent, not resolved"
    return ["", f"draws = auto(z={auto['z']:g}, max={auto['max']}, chunk={auto['chunk']}) on "
            f"{what}: {auto['draws']} draws per chain, {verdict}.", "",
            table(["draws", *labels], [[c["draws"], *(c["best_abs_z"][k] for k in labels)]
                                       for c in auto["chunks"]]), ""]

"""The report's sampler pieces: markdown tables, the ``step = auto`` scan (table and figure) and
the ``draws = auto`` chunk trace (draws and best |z| per targeted row after each chunk)."""

from __future__ import annotations

from pathlib import Path

from patternlang.runtime import figures


def table(header: list[str], rows: list[list]) -> str:
    fmt = [" | ".join(str(c) for c in header), " | ".join("---" for _ in header)]
    fmt += [" | ".join(cell(c) for c in r) for r in rows]
    return "\n".join(f"| {line} |" for line in fmt)


def cell(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


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

"""Report figures, drawn with matplotlib's Agg canvas (no display, no global pyplot state).

Every function takes plain numpy arrays / lists and a ``path`` and returns the path of the PNG it
wrote (atomically: a temporary file in the same folder, then a rename). Non-finite values are
tolerated: NaN cells of a heatmap are drawn grey and labelled ``nan``, NaN points of a curve are
gaps.

* :func:`chain_traces`: loss / LLC / observable per chain over draws.
* :func:`chi_heatmap`: chi (observables x components), annotated with the raw values, each row
  coloured on its own scale (z = chi/SE, or chi / the row's max), diverging from white at 0.
* :func:`singular_spectrum`: variance explained by each principal susceptibility direction.
* :func:`weights_comparison`: old vs new mixture weights on their own scale (the pseudo-inverse
  solution as markers, clipped to that scale with its value written).
* :func:`verification_curves`: an observable over training, one line per arm with a seed band.
* :func:`predicted_vs_realized`: the linear response's prediction vs the realized change, per arm.
* :func:`arm_outcomes`: the random arms' outcomes with the named arms marked.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib import colors  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from patternlang.runtime.rundir import atomic_write_bytes

if TYPE_CHECKING:
    from patternlang.runtime.sample_types import StepScanRecord
    from patternlang.runtime.validation_types import ValidationPoint

PathLike = str | os.PathLike

__all__ = ["chain_traces", "chi_heatmap", "diverging_norm", "row_colours", "singular_spectrum",
           "weights_comparison", "weights_range", "verification_curves", "predicted_vs_realized",
           "arm_outcomes"]

#: colours of the named arms in the validation figures (random arms are grey)
ARM_COLOURS = {"patterned": "tab:blue", "opposite": "tab:red", "baseline": "black",
               "control": "tab:orange", "orthogonal": "tab:purple", "regression": "tab:green"}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: PathLike) -> Path:
    """Write ``fig`` to ``path`` as PNG via a temporary file and an atomic rename."""
    import io

    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    return path


def chain_traces(traces: Mapping[str, np.ndarray], path: PathLike, title: str = "",
                 draw_offset: int = 0) -> Path:
    """One panel per quantity (e.g. ``{"loss": [C, draws], "llc": [C, draws]}``), one line per chain.

    ``draw_offset`` shifts the x axis (e.g. the burn-in length) so draws read in sampler steps."""
    names = list(traces) or ["(no traces)"]
    fig = _new_figure(7.0, 2.2 * len(names) + 0.4)
    axes = fig.subplots(len(names), 1, squeeze=False, sharex=True)[:, 0]
    for ax, name in zip(axes, names):
        data = np.atleast_2d(np.asarray(traces.get(name, np.zeros((0, 0))), dtype=float))
        for c, row in enumerate(data):
            ax.plot(draw_offset + np.arange(row.size), row, lw=0.8, label=f"chain {c}")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if 1 < data.shape[0] <= 8:
            ax.legend(fontsize=7, ncols=min(4, data.shape[0]), loc="best")
    axes[-1].set_xlabel("draw")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def diverging_norm(values: np.ndarray) -> colors.TwoSlopeNorm:
    """Colour normalisation centred at 0 and symmetric, ``[-m, m]`` with ``m = max |finite value|``
    (``m = 1`` when there is none or all are zero), so 0 is always the colormap's white."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    m = m if m > 0 else 1.0
    return colors.TwoSlopeNorm(vcenter=0.0, vmin=-m, vmax=m)


Z_SATURATE = 4.0
"""|z| = |chi| / SE at which the heatmap's colours saturate."""


def row_colours(chi: np.ndarray, se: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """What the heatmap colours, per row (observables differ in scale by orders of magnitude, so
    one scale for all rows leaves the small ones white): ``z = chi / SE`` where a row has finite,
    positive errors (clipped to ``[-Z_SATURATE, Z_SATURATE]``, then divided by it), else ``chi``
    divided by the row's largest ``|chi|``. Values in ``[-1, 1]``, NaN kept; and the legend."""
    chi = np.atleast_2d(np.asarray(chi, dtype=float))
    out = np.full_like(chi, np.nan)
    se_arr = None if se is None else np.atleast_2d(np.asarray(se, dtype=float))
    used_z = used_row = False
    with np.errstate(all="ignore"):
        for i, row in enumerate(chi):
            err = None if se_arr is None else se_arr[i]
            if err is not None and np.all(np.isfinite(err[np.isfinite(row)])) and np.all(err[np.isfinite(row)] > 0):
                out[i] = np.clip(row / err, -Z_SATURATE, Z_SATURATE) / Z_SATURATE
                used_z = True
            else:
                finite = row[np.isfinite(row)]
                m = float(np.max(np.abs(finite))) if finite.size else 0.0
                out[i] = row / m if m > 0 else np.where(np.isfinite(row), 0.0, np.nan)
                used_row = True
    label = (f"z = χ / SE (saturates at |z| = {Z_SATURATE:g})" if used_z else "") + \
        (" ; " if used_z and used_row else "") + ("χ / row max |χ|" if used_row else "")
    return out, label


def chi_heatmap(chi: np.ndarray, obs_names: Sequence[str], comp_names: Sequence[str],
                path: PathLike, se: np.ndarray | None = None, title: str = "chi") -> Path:
    """Heatmap of ``chi`` (rows: observables, columns: components), coloured per row by
    :func:`row_colours` (z = chi / SE, or the row's own scale) so every row can be read whatever
    its magnitude; each cell is annotated with the raw value (``value`` or ``value +- se``)."""
    chi = np.atleast_2d(np.asarray(chi, dtype=float))
    shade, label = row_colours(chi, se)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.75")
    m, k = chi.shape
    fig = _new_figure(max(4.0, 1.1 * k + 2.5), max(2.5, 0.45 * m + 1.5))
    ax = fig.add_subplot()
    img = ax.imshow(np.ma.masked_invalid(shade), cmap=cmap, aspect="auto",
                    norm=colors.TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0))
    bar = fig.colorbar(img, ax=ax, shrink=0.9)
    bar.set_label(label, fontsize=7)
    if label.startswith("z") and ";" not in label:
        ticks = np.linspace(-1.0, 1.0, 5)
        bar.set_ticks(ticks.tolist(), labels=[f"{t * Z_SATURATE:g}" for t in ticks])
    ax.set_xticks(range(k), [str(c) for c in comp_names], rotation=30, ha="right")
    ax.set_yticks(range(m), [str(o) for o in obs_names])
    se_arr = None if se is None else np.atleast_2d(np.asarray(se, dtype=float))
    fontsize = 8 if m * k <= 60 else 6
    for i in range(m):
        for j in range(k):
            v = chi[i, j]
            text = "nan" if not np.isfinite(v) else f"{v:.2g}"
            if se_arr is not None and np.isfinite(v) and np.isfinite(se_arr[i, j]):
                text += f"\n±{se_arr[i, j]:.1g}"
            dark = np.isfinite(shade[i, j]) and abs(shade[i, j]) > 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if dark else "black")
    ax.set_title(title)
    return _save(fig, path)


def singular_spectrum(singular_values: Sequence[float], path: PathLike,
                      title: str = "principal susceptibility directions") -> Path:
    """Bars: fraction of variance (``s_i^2 / sum s^2``) per direction; line: cumulative fraction."""
    s = np.asarray(singular_values, dtype=float)
    s = s[np.isfinite(s)]
    total = float(np.sum(s**2))
    frac = s**2 / total if total > 0 else np.zeros_like(s)
    fig = _new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    idx = np.arange(1, s.size + 1)
    ax.bar(idx, frac, color="tab:blue", label="variance explained")
    ax.plot(idx, np.cumsum(frac), "o-", color="tab:orange", label="cumulative")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(idx if s.size else [])
    ax.set_xlabel("direction")
    ax.set_ylabel("fraction of sum s²")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(title)
    return _save(fig, path)


def step_scan(scan: StepScanRecord, path: PathLike, title: str = "step = auto") -> Path:
    """λ̂ ± 2 SE against ε (log axis) for the stable points of a step scan; the plateau shaded, the
    chosen ε a vertical line; with targeted χ rows, a second panel of each row's components ± 2 SE."""
    pts = [p for p in scan.rows if p.llc is not None]
    labels = list(next((p.rows for p in pts if p.rows), {}))
    fig = _new_figure(5.5, 5.6 if labels else 3.2)
    axes = [fig.add_subplot(2 if labels else 1, 1, i + 1) for i in range(2 if labels else 1)]
    for stable, color in ((True, "tab:blue"), (False, "tab:gray")):
        sel = [p for p in pts if p.stable == stable]
        if sel:
            axes[0].errorbar([p.step_size for p in sel], [p.llc for p in sel],
                             yerr=[2 * (p.llc_se or 0) for p in sel], fmt="o", color=color,
                             label="stable" if stable else "unstable / not equilibrated")
    for label in labels:
        rows = [(p.step_size, p.rows[label]) for p in pts if p.rows and p.rows.get(label)]
        for k, comp in enumerate(rows[0][1].components):
            axes[1].errorbar([eps for eps, _ in rows], [row.value[k] for _, row in rows],
                             yerr=[2 * (row.se[k] or 0) for _, row in rows], fmt="o-", ms=3,
                             label=f"{label}: {comp}")
    for ax in axes:
        if scan.plateau:
            ax.axvspan(min(scan.plateau), max(scan.plateau), color="tab:green", alpha=0.15, label="plateau")
        ax.axvline(scan.chosen, color="tab:red", lw=1, label=f"chosen {scan.chosen:.3g}")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step ε")
    axes[0].set_ylabel("LLC estimate")
    if labels:
        axes[1].set_ylabel("targeted row (nβ·χ)")
    axes[0].set_title(title)
    return _save(fig, path)


def weights_comparison(comp_names: Sequence[str], old: Sequence[float], new: Sequence[float],
                       path: PathLike, pinv: Sequence[float] | None = None,
                       title: str = "mixture weights") -> Path:
    """Grouped bars per component: current ``old`` and solved ``new`` weights, on the weights' own
    scale (0 to a little above the largest). The pseudo-inverse weights, if given, are markers; one
    outside that range (they can be far outside [0, 1]) is drawn at the edge as a triangle with its
    value written beside it, so it never squashes the bars."""
    old_a, new_a = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    k = len(comp_names)
    fig = _new_figure(max(4.5, 0.9 * k + 2.0), 3.4)
    ax = fig.add_subplot()
    x = np.arange(k)
    width = 0.38
    ax.bar(x - width / 2, old_a, width, label="current", color="tab:gray")
    ax.bar(x + width / 2, new_a, width, label="patterned", color="tab:blue")
    bottom, top = weights_range(old_a, new_a)
    if pinv is not None:
        _pinv_markers(ax, x, np.asarray(pinv, dtype=float), bottom, top)
    ax.set_ylim(bottom, top)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(x, [str(c) for c in comp_names], rotation=30, ha="right")
    ax.set_ylabel("weight h")
    # beside the axes, not over the bars (a tall bar sits wherever the legend would go)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _pinv_markers(ax, x: np.ndarray, pinv: np.ndarray, bottom: float, top: float) -> None:
    inside = np.isfinite(pinv) & (pinv >= bottom) & (pinv <= top)
    ax.plot(x[inside], pinv[inside], "D", color="tab:orange", ms=5,
            label="pseudo-inverse (▲▼ off scale)")
    span = top - bottom
    for xi, v in zip(x[~inside], pinv[~inside]):
        if np.isfinite(v):
            edge = top - 0.04 * span if v > top else bottom + 0.04 * span
            ax.plot([xi], [edge], "^" if v > top else "v", color="tab:orange", ms=6)
            ax.annotate(f"{v:.3g}", (xi, edge), textcoords="offset points",
                        xytext=(0, -10 if v > top else 4), ha="center", fontsize=7, color="tab:orange")


def weights_range(old: Sequence[float] | np.ndarray, new: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The y range of :func:`weights_comparison`: from min(0, 1.15 x the smallest weight) to 1.3 x
    the largest of the current and new weights (room for the legend) (1 if none is positive)."""
    both = np.concatenate([np.asarray(old, dtype=float), np.asarray(new, dtype=float)])
    both = both[np.isfinite(both)]
    top = 1.3 * float(np.max(both)) if both.size and np.max(both) > 0 else 1.0
    bottom = min(0.0, 1.15 * float(np.min(both))) if both.size else 0.0
    return bottom, top


def verification_curves(steps: Sequence[int], arms: Mapping[str, np.ndarray], path: PathLike,
                        observable: str = "observable", thresholds: Sequence[float] = (),
                        band: str = "minmax", title: str = "") -> Path:
    """An observable over training steps: per arm (``{"baseline": [seeds, steps], ...}``) the mean
    over seeds as a line and a band (``minmax``: min to max over seeds; ``se``: mean +- standard
    error). Onset ``thresholds`` are dashed horizontal lines."""
    if band not in ("minmax", "se"):
        raise ValueError(f"band must be 'minmax' or 'se', not {band!r}")
    x = np.asarray(steps, dtype=float)
    fig = _new_figure(6.5, 3.6)
    ax = fig.add_subplot()
    for name, values in arms.items():
        v = np.atleast_2d(np.asarray(values, dtype=float))
        mean, lo, hi = _band(v, band)
        (line,) = ax.plot(x, mean, lw=1.5, label=f"{name} (n={v.shape[0]})")
        if v.shape[0] > 1:
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    for t in thresholds:
        ax.axhline(float(t), ls="--", color="black", lw=0.8, label=f"onset {t:g}")
    ax.set_xlabel("training step")
    ax.set_ylabel(observable)
    ax.grid(alpha=0.3)
    if arms or thresholds:
        ax.legend(fontsize=8)
    ax.set_title(title or observable)
    return _save(fig, path)


def predicted_vs_realized(points: Sequence[ValidationPoint], path: PathLike, target: str = "",
                          title: str = "") -> Path:
    """One point per arm: the predicted change (nβ·χ·Δh, with its SE) against the realized change
    (with its spread over seeds)."""
    fig = _new_figure(5.2, 4.0)
    ax = fig.add_subplot()
    for p in points:
        arm = str(p.arm)
        named = arm in ARM_COLOURS
        ax.errorbar(p.predicted, p.realized, xerr=p.se or 0.0,
                    yerr=p.realized_sd or 0.0, fmt="o" if named else ".",
                    color=ARM_COLOURS.get(arm, "0.55"), ms=7 if named else 5, lw=0.8,
                    label=arm if named else None)
    ax.axhline(0.0, color="black", lw=0.5)
    ax.axvline(0.0, color="black", lw=0.5)
    ax.set_xlabel(textwrap.fill(f"predicted change of {target} (nβ·χ·Δh)", 70))
    ax.set_ylabel("realized change (arm − baseline)")
    ax.grid(alpha=0.3)
    if points:
        ax.legend(fontsize=8, title="grey: random arms", title_fontsize=8)
    ax.set_title(title or "predicted vs realized change")
    return _save(fig, path)


def arm_outcomes(outcomes: Mapping[str, float | None], path: PathLike, label: str = "outcome",
                 title: str = "") -> Path:
    """The random arms' outcomes (``random*`` keys) as a strip of grey ticks, the named arms as
    coloured vertical lines."""
    fig = _new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    rand = [float(v) for k, v in outcomes.items() if k.startswith("random") and v is not None]
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(rand))
    ax.scatter(rand, jitter, color="0.5", s=24, label=f"random arms (n={len(rand)})")
    for arm, colour in ARM_COLOURS.items():
        v = outcomes.get(arm)
        if v is not None and np.isfinite(v):
            ax.axvline(float(v), color=colour, lw=1.6, label=arm)
    ax.set_yticks([])
    ax.set_ylim(-0.5, 0.5)
    ax.set_xlabel(textwrap.fill(label, 80), fontsize=8)
    fig.legend(fontsize=7, ncol=4, loc="outside lower center")
    ax.set_title(title or "random arms vs the named arms")
    return _save(fig, path)


def _band(v: np.ndarray, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (rows) and the band's lower / upper edge, ignoring NaN seeds per step."""
    with np.errstate(all="ignore"):
        ok = np.isfinite(v)
        n = ok.sum(axis=0)
        filled = np.where(ok, v, 0.0)
        mean = np.where(n > 0, filled.sum(axis=0) / np.maximum(n, 1), np.nan)
        if band == "minmax":
            lo = np.where(n > 0, np.where(ok, v, np.inf).min(axis=0), np.nan)
            hi = np.where(n > 0, np.where(ok, v, -np.inf).max(axis=0), np.nan)
            return mean, lo, hi
        dev = np.where(ok, v - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / np.maximum(n - 1, 1))
        se = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), 0.0)
        return mean, mean - se, mean + se

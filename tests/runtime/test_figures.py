"""Report figures: each writes a PNG that decodes, at the requested path, and odd input (NaN,
all zeros, empty) does not break them."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import image

from patternlang.runtime import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    return pixels


def test_chain_traces(tmp_path):
    rng = np.random.default_rng(0)
    out = figures.chain_traces({"loss": rng.normal(size=(4, 50)), "llc": rng.normal(size=(4, 50))},
                               tmp_path / "sub" / "traces.png", title="sample.chi", draw_offset=10)
    assert out == tmp_path / "sub" / "traces.png"
    _check_png(out)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["traces.png"]  # no temp left


@pytest.mark.parametrize("chi", [
    np.array([[0.5, -1.0, 0.0], [2.0, np.nan, -0.3]]),
    np.zeros((2, 3)),
    np.full((2, 3), np.nan),
])
def test_chi_heatmap_handles_nan_and_zero(tmp_path, chi):
    se = np.abs(chi) * 0.1
    out = figures.chi_heatmap(chi, ["induction", "prev token"], ["a", "b", "c"],
                              tmp_path / "chi.png", se=se)
    pixels = _check_png(out)
    assert np.ptp(pixels[..., :3]) > 0  # something was drawn


def test_heatmap_colours_are_centred_at_zero():
    norm = figures.diverging_norm(np.array([[0.0, 3.0], [np.nan, 1.0]]))
    assert norm(0.0) == pytest.approx(0.5) and norm(3.0) == pytest.approx(1.0)
    assert norm(-3.0) == pytest.approx(0.0)
    for degenerate in (np.zeros((2, 2)), np.full((1, 1), np.nan)):
        norm = figures.diverging_norm(degenerate)
        assert (norm.vmin, norm.vmax) == (-1.0, 1.0) and norm(0.0) == pytest.approx(0.5)


def test_singular_spectrum(tmp_path):
    _check_png(figures.singular_spectrum([3.0, 1.0, 0.1, np.nan], tmp_path / "s.png"))
    _check_png(figures.singular_spectrum([0.0, 0.0], tmp_path / "zero.png"))


def test_weights_comparison(tmp_path):
    _check_png(figures.weights_comparison(["a", "b", "c"], [0.2, 0.7, 0.1], [0.6, 0.4, 0.0],
                                          tmp_path / "w.png", pinv=[0.6, 0.5, -0.1]))


def test_verification_curves(tmp_path):
    rng = np.random.default_rng(1)
    steps = np.arange(0, 200, 25)
    base = rng.normal(size=(3, steps.size)).cumsum(axis=1)
    pat = base + 1.0
    pat[1, 2] = np.nan
    for band in ("minmax", "se"):
        _check_png(figures.verification_curves(
            steps, {"baseline": base, "patterned": pat, "single": base[:1]},
            tmp_path / f"v_{band}.png", observable="induction score", thresholds=[0.5],
            band=band))
    _check_png(figures.verification_curves(steps, {}, tmp_path / "empty.png"))


def test_step_scan_figure(tmp_path):
    from patternlang.runtime import figures
    from patternlang.runtime.sample_types import StepScanRecord

    settings = {"max_step": 1e-3, "factor": 2.0, "points": 2, "draws": 200, "burnin": 200,
                "rel_tol": 0.1, "chains": 4}
    scan = {"rows": [{"step_size": 1e-3, "llc": 5.0, "llc_se": 0.2, "stable": False, "reason": "diverged"},
                     {"step_size": 5e-4, "llc": 3.0, "llc_se": 0.1, "stable": True, "reason": None},
                     {"step_size": 2.5e-4, "llc": 2.9, "llc_se": 0.1, "stable": True, "reason": None},
                     {"step_size": 1.25e-4, "llc": None, "llc_se": None, "stable": False, "reason": "not finite"}],
            "plateau": [5e-4, 2.5e-4], "chosen": 5e-4, "warnings": [], "settings": settings}
    p = figures.step_scan(StepScanRecord.model_validate(scan), tmp_path / "scan.png")
    assert p.exists() and p.stat().st_size > 1000


def test_heatmap_rows_are_coloured_on_their_own_scale():
    """A row of attention scores (~1e-5) next to a row of losses (~1e-3): both use the full colour
    range; with errors the colour is z = chi/SE, saturating at |z| = 4."""
    chi = np.array([[2e-5, -1e-5, 0.0], [3e-3, 1e-3, -6e-3]])
    shade, label = figures.row_colours(chi)
    assert shade[0] == pytest.approx([1.0, -0.5, 0.0]) and shade[1] == pytest.approx([0.5, 1 / 6, -1.0])
    assert "row max" in label
    se = np.array([[1e-5, 1e-5, 1e-5], [1e-3, 1e-3, 1e-3]])
    shade, label = figures.row_colours(chi, se)
    assert shade[0] == pytest.approx([0.5, -0.25, 0.0])  # z = 2, -1, 0 over 4
    assert shade[1] == pytest.approx([0.75, 0.25, -1.0])  # z = 3, 1, -6 -> clipped at -4
    assert label.startswith("z = χ / SE")
    se[0, 1] = 0.0  # a row without usable errors falls back to its own scale
    shade, label = figures.row_colours(chi, se)
    assert shade[0] == pytest.approx([1.0, -0.5, 0.0]) and "row max" in label and "z =" in label


def test_weights_are_drawn_on_their_own_scale_not_the_pseudo_inverses(tmp_path):
    old, new = [0.35, 0.45, 0.2], [0.4, 0.45, 0.15]
    assert figures.weights_range(old, new) == pytest.approx((0.0, 1.3 * 0.45))
    _check_png(figures.weights_comparison(["a", "b", "c"], old, new, tmp_path / "w.png",
                                          pinv=[312.0, -290.0, 0.2]))

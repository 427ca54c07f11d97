"""End to end: validation of a patterning whose target training does not track.

``specs/ci/parentheses_validation.pat`` lowers a free-energy difference between two
susceptibilities — a property of the posterior, with no counterpart in a training curve — so the
validation reads the verify's first onset observable (``nested``) at the horizon in its place.
The LDS in
``results.json`` must equal the Spearman correlation, recomputed here from χ and the arms' curves,
between the primary target's linear response (signed so that progress toward the onset counts
positive) and the realized change of ``nested``; the regression arm must fit ``nested`` on its
proxies and ask to reach the onset threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from .tiny import run_in_one_process

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "ci" / "parentheses_validation.pat"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    return run_in_one_process(SPEC, tmp_path_factory.mktemp("pv")).data


def _predicted_free_gap(data: dict, dh: dict) -> float:
    """nβ·χ·Δh of ``chi_n.free − chi_e.free`` (each susceptibility with its own nβ)."""
    out = 0.0
    for sus, sign in (("susceptibility.chi_n", 1.0), ("susceptibility.chi_e", -1.0)):
        chi = data["susceptibilities"][sus]
        row = np.asarray(chi["chi"])[chi["observables"].index("free")]
        out += sign * chi["nbeta"] * float(row @ np.array([dh[c] for c in chi["components"]]))
    return out


def test_the_onset_observable_stands_in_for_the_free_energy(done):
    val = done["verification"]["verify.prefer_nested"]["validation"]
    assert val["proxy"] == "nested (onset proxy of lower chi_n.free relative to chi_e.free)"
    assert val["lds_target"] == val["proxy"]
    # a posterior-only target speaks about the solution training ends in: read at the horizon
    assert val["objective"] == "change of " + val["proxy"] + " at step 40"
    assert val["evaluated_at"] == 40 and val["outcome_lower_is_better"] is False
    assert val["lds_onset_spearman"] is None
    assert val["random_arms"] == 3
    arms = done["verification"]["verify.prefer_nested"]["arms"]
    final = {a: np.mean([s[-1] for s in arm["curves"]["nested"]]) for a, arm in arms.items()}
    others = [final[f"random{i}"] for i in (1, 2, 3)]
    expect = (sum(o < final["patterned"] for o in others)
              + 0.5 * sum(o == final["patterned"] for o in others)) / 3
    assert val["random_percentile"] == pytest.approx(expect)


def test_lds_recomputed_from_chi_and_the_arms(done):
    v = done["verification"]["verify.prefer_nested"]
    val = v["validation"]
    h0 = done["solves"]["solve.prefer_nested"]["baseline"]
    at = v["steps"].index(val["evaluated_at"])
    base = np.mean([s[at] for s in v["arms"]["baseline"]["curves"]["nested"]])
    pred, real = [], []
    for name, arm in v["arms"].items():
        if name == "baseline":
            continue
        dh = {c: arm["weights"][c] - h0[c] for c in h0}
        # lowering the gap is the desired direction, and `nested >= t` rises toward its onset
        pred.append(-_predicted_free_gap(done, dh))
        real.append(np.mean([s[at] for s in arm["curves"]["nested"]]) - base)
    assert val["lds_spearman"] == pytest.approx(stats.spearmanr(pred, real).statistic, abs=1e-9)
    pts = [p for p in val["points"] if p["target"] == val["lds_target"]]
    assert [p["predicted"] for p in pts] == pytest.approx(pred, rel=1e-6)
    assert [p["realized"] for p in pts] == pytest.approx(real, rel=1e-6, abs=1e-12)


def test_regression_fits_the_onset_observable(done):
    r = done["verification"]["verify.prefer_nested"]["validation"]["regression"]
    assert [f["target"] for f in r["fits"]] == \
        ["nested (onset proxy of lower chi_n.free relative to chi_e.free)"]
    assert len(r["measured"]) == 3 and all(0.0 <= m[r["fits"][0]["target"]] <= 1.0
                                           for m in r["measured"])
    (target,) = r["solution"]["targets"]
    # raised by ten times the proxies' spread: a goal no step in the trust region reaches
    spread = np.ptp([m[r["fits"][0]["target"]] for m in r["measured"]])
    assert target["kind"] == "raise" and target["desired"] == pytest.approx(10 * spread)
    w = r["weights"]
    assert abs(sum(w.values()) - 1) < 1e-6 and w["pos"] == pytest.approx(0.5, abs=1e-6)


def test_verdict_of_the_proxy(done):
    t = done["verification"]["verify.prefer_nested"]["verdict"]["targets"][0]
    assert t["kind"] == "raise" and t["desired"] == 0.0
    assert t["reached"] == (t["realized_mean"] > 0)

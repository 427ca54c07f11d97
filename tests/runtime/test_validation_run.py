"""End to end: ``specs/ci/quickstart_validation.pat`` (random(4) and regression(4) arms) through
``patternlang.api.run``, and its validation summary recomputed independently from the arms.

The percentile and the LDS in ``results.json`` must equal what the arms' own curves and the
susceptibility's χ give when recomputed here with scipy; the random arms must keep the solve's
equality constraints and the step length; the regression arm's proxies must lie inside the
constraints and its compute must match the patterning's (equal compute by default); a second run
into the same directory must re-use every (arm, seed) and proxy run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from patternlang.api import run

from .tiny import run_in_one_process

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "ci" / "quickstart_validation.pat"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("qv")
    return run_in_one_process(SPEC, out), out


def _verify(done) -> dict:
    return done[0].data["verification"]["verify.accelerate"]


def _mean_ih(arm: dict, at: int) -> float:
    """mean(ih) at evaluation ``at``, mean over seeds (mean over the two layer-1 heads)."""
    heads = [k for k in arm["curves"] if k.startswith("ih[")]
    return float(np.mean([[s[at] for s in arm["curves"][h]] for h in heads]))


def _realized(arm: dict, base: dict, at: int) -> float:
    return _mean_ih(arm, at) - _mean_ih(base, at)


def test_arms_and_their_weights(done):
    v = _verify(done)
    sol = done[0].data["solves"]["solve.accelerate"]
    names = ["baseline", "patterned", "opposite", *[f"random{i}" for i in range(1, 5)], "regression"]
    assert list(v["arms"]) == names
    h0 = np.array(list(sol["baseline"].values()))
    step = np.linalg.norm(np.array(list(sol["final_weights"].values())) - h0)
    dirs = []
    for i in range(1, 5):
        w = np.array(list(v["arms"][f"random{i}"]["weights"].values()))
        assert w.min() >= 0 and abs(w.sum() - 1) < 1e-9
        assert np.linalg.norm(w - h0) <= step + 1e-9  # same length, at most shortened by the clip
        dirs.append(w - h0)
    assert np.linalg.matrix_rank(np.array(dirs), tol=1e-6) >= 2  # K different seeds, not one step


def test_percentile_recomputed_from_the_arms(done):
    v = _verify(done)
    val = v["validation"]
    assert val["random_arms"] == 4
    assert val["objective"].startswith("change of raise mean(ih)")
    at = v["steps"].index(val["evaluated_at"])
    base = v["arms"]["baseline"]
    own = _realized(v["arms"]["patterned"], base, at)
    others = [_realized(v["arms"][f"random{i}"], base, at) for i in range(1, 5)]
    expect = (sum(o < own for o in others) + 0.5 * sum(o == own for o in others)) / 4
    assert val["random_percentile"] == pytest.approx(expect)
    lo, hi = val["random_percentile_ci"]
    assert 0.0 <= lo <= hi <= 1.0


def test_lds_recomputed_from_chi_and_the_arms(done):
    v, data = _verify(done), done[0].data
    val = v["validation"]
    chi = data["susceptibilities"]["susceptibility.chi"]
    rows = chi["observables"]
    ih = np.array([1.0 / 2 if r.startswith("ih[") else 0.0 for r in rows])  # mean over 2 heads
    resp = chi["nbeta"] * np.asarray(chi["chi"])
    h0 = data["solves"]["solve.accelerate"]["baseline"]
    at = v["steps"].index(val["evaluated_at"])
    pred, real = [], []
    for arm, a in v["arms"].items():
        if arm == "baseline":
            continue
        dh = np.array([a["weights"][c] - h0[c] for c in chi["components"]])
        pred.append(float(ih @ resp @ dh))
        real.append(_realized(a, v["arms"]["baseline"], at))
    rho = stats.spearmanr(pred, real).statistic
    assert val["lds_spearman"] == pytest.approx(rho, abs=1e-9)
    pts = [p for p in val["points"] if p["target"] == val["lds_target"]]
    assert [p["predicted"] for p in pts] == pytest.approx(pred, rel=1e-6, abs=1e-15)


def test_regression_arm_inside_constraints_at_equal_compute(done):
    val = _verify(done)["validation"]
    r = val["regression"]
    h0 = done[0].data["solves"]["solve.accelerate"]["baseline"]
    for mix in [*r["mixtures"], r["weights"]]:
        assert min(mix.values()) >= -1e-9 and abs(sum(mix.values()) - 1) < 1e-6
        assert mix["uniform"] >= 0.05 - 1e-6
        assert sum(p * math.log(p / h0[k]) for k, p in mix.items() if p > 0) <= 0.05 + 1e-5
    pc, rc = r["compute"]["patterning"]["equivalent_fwd_bwd"], r["compute"]["regression"]["equivalent_fwd_bwd"]
    assert rc <= pc and rc >= pc - 16 * r["runs"]  # within one proxy step per run (batch 16)
    assert [f["target"] for f in r["fits"]] == ["raise mean(ih)", "hold loss(markov)"]
    assert _verify(done)["arms"]["regression"]["weights"] == pytest.approx(r["weights"])


def test_verdict_and_report(done):
    v = _verify(done)
    kinds = {t["target"]: t for t in v["verdict"]["targets"]}
    hold = kinds["hold loss(markov)"]
    assert hold["held"] == (abs(hold["realized_mean"]) <= hold["tolerance"])
    for t in v["verdict"]["targets"]:
        if t["sign_agrees"] is not None:
            assert abs(t["predicted"]) > t["se"]
    assert len(v["verdict"]["arms"]) == 8
    report = (done[1] / "report.md").read_text()
    assert "#### Validation" in report and "Regression baseline" in report
    assert list((done[1] / "figures").glob("lds-*.png")) and list((done[1] / "figures").glob("random-*.png"))


def test_second_run_reuses_every_run(done, tmp_path):
    result, out = done
    before = sorted(p.name for p in (out / "runs").iterdir())
    again = run(SPEC, out, device="cpu")
    assert sorted(p.name for p in (out / "runs").iterdir()) == before
    assert again.data["verification"]["verify.accelerate"]["validation"]["lds_spearman"] == \
        result.data["verification"]["verify.accelerate"]["validation"]["lds_spearman"]


def test_a_solve_without_rows_json_verifies_the_same(done, tmp_path):
    """A run directory written before the solve kept its rows (no ``rows.json``,
    ``SolveResult.rows`` absent): verification rebuilds the rows and targets from χ, as the solve
    built them, and its numbers do not change."""
    import shutil

    from patternlang.runtime.rundir import read_json, seal

    result, out = done
    old = tmp_path / "old"
    shutil.copytree(out, old)
    solve = next((old / "steps").glob("solve-*"))
    summary = read_json(solve / "done.json")["summary"]
    assert summary.pop("rows") == "rows.json"
    (solve / "rows.json").unlink()
    seal(solve, summary)  # the solve's done.json as an older patternlang wrote it
    for d in (old / "steps").glob("verify-*"):
        shutil.rmtree(d)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATTERNLANG_WORKERS", "1")
        again = run(SPEC, old, device="cpu")
    assert not (solve / "rows.json").exists()  # the solve step was re-used, not re-run
    assert again.data["verification"] == result.data["verification"]

"""End-to-end runs of the CI-sized induction specs (``specs/ci/``) through ``patternlang.api.run``.

Each spec is the full pipeline of its full-size sibling (train -> SGLD sample -> chi -> solve ->
verify -> report) on a model and horizon small enough for CI. Induction does not form at this size,
so the assertions are about the pipeline's outputs being complete and sensible, not the outcome:
results.json has every step complete, chi is finite with positive standard errors, the columns of
chi are differences from the mixture (sum_k h_k chi_k = 0, a property of the estimator), the
solution is feasible (a probability vector inside its trust region and bounds), and verification
recorded a curve per arm and seed with onsets and calibration rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from patternlang.api import run

ROOT = Path(__file__).resolve().parents[2]
CI_SPECS = ["quickstart", "induction_accelerate", "induction_delay"]


def _kl(p: dict[str, float], q: dict[str, float]) -> float:
    return sum(v * math.log(v / q[k]) for k, v in p.items() if v > 0)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATTERNLANG_WORKERS", "1")  # no worker processes to spawn for runs this small
        for name in CI_SPECS:
            out[name] = run(ROOT / "specs" / "ci" / f"{name}.pat", tmp_path_factory.mktemp(name),
                            device="cpu")
    return out


@pytest.mark.parametrize("name", CI_SPECS)
def test_every_step_completes(results, name):
    data = results[name].data
    # results.json is written by the report step itself, before that step is marked done
    assert all(s["complete"] for k, s in data["steps"].items() if s["kind"] != "report"), data["steps"]
    kinds = {s["kind"] for s in data["steps"].values()}
    assert {"train", "sample", "susceptibility", "solve", "verify", "report"} <= kinds
    run_dir = results[name].run_dir
    assert (run_dir / "report.md").read_text().count("### ") >= 5
    assert list((run_dir / "figures").glob("verify-*.png"))


@pytest.mark.parametrize("name", CI_SPECS)
def test_chi_finite_with_errors_and_sum_zero(results, name):
    chi_sum = results[name].chi
    chi, se = np.asarray(chi_sum["chi"]), np.asarray(chi_sum["chi_se"])
    assert chi.shape == (len(chi_sum["observables"]), len(chi_sum["components"]))
    assert np.isfinite(chi).all() and np.isfinite(se).all() and (se > 0).all()
    h = np.array([results[name].data["train"]["train.pretrain"]["mixture"][c]
                  for c in chi_sum["components"]])
    # chi[:, k] = -Cov(phi, L_k - L): weighted by h the columns cancel exactly (up to float error)
    assert np.allclose(chi @ h, 0.0, atol=1e-9 + 1e-6 * np.abs(chi).max())
    llc = next(iter(results[name].data["llc"].values()))
    assert math.isfinite(llc["llc_mean"]) and llc["llc_se"] > 0


@pytest.mark.parametrize("name", CI_SPECS)
def test_solution_feasible(results, name):
    res = next(iter(results[name].data["solves"].values()))
    sol = res["rounds"][0]["solve"]
    assert sol["status"] in ("optimal", "optimal_inaccurate")
    w, h0 = res["final_weights"], res["baseline"]
    assert w == sol["weights"] and h0 == sol["h0"]  # one round
    assert abs(sum(w.values()) - 1) < 1e-6 and min(w.values()) >= -1e-8
    assert _kl(w, h0) <= 0.05 + 1e-4  # every CI spec has kl(base) <= 0.05
    assert any(abs(w[k] - h0[k]) > 1e-4 for k in w), "the solver did not move the weights"
    for row in sol["targets"]:
        assert math.isfinite(row["predicted"]) and row["se"] >= 0


@pytest.mark.parametrize("name", CI_SPECS)
def test_verification_curves_and_calibration(results, name):
    ver = next(iter(results[name].data["verification"].values()))
    assert ver["steps"] == [10, 20, 30] or ver["steps"][-1] == 30
    for arm, body in ver["arms"].items():
        curves = body["curves"]["mean(ih)"]
        assert len(curves) == len(body["seeds"]) == 2
        assert all(len(c) == len(ver["steps"]) and all(map(math.isfinite, c)) for c in curves)
        assert abs(sum(body["weights"].values()) - 1) < 1e-6
        assert len(body["onset"]["mean(ih)"]["per_seed"]) == 2
    assert {"baseline", "patterned", "control"} <= set(ver["arms"])
    cal = {r["observable"]: r for r in ver["calibration"]}
    assert "mean(ih)" in cal
    row = cal["mean(ih)"]
    assert math.isfinite(row["predicted"]) and math.isfinite(row["realized"])
    if abs(row["predicted"]) > row["se"]:
        assert row["sign_agrees"] == (np.sign(row["predicted"]) == np.sign(row["realized"]))
    else:  # a prediction within its SE has no sign to agree with
        assert row["sign_agrees"] is None


def test_finite_difference_check_rows(results):
    """specs/ci/induction_accelerate.pat sets check = finite_difference(spans): the susceptibility
    step re-samples at (1 -/+ eps)h +/- eps e_spans and reports chi_fd beside chi."""
    chi_sum = results["induction_accelerate"].chi
    rows = chi_sum["finite_difference"]
    names = chi_sum["observables"]
    assert {r["component"] for r in rows} == {"spans"}
    by_obs = {r["observable"]: r for r in rows}
    assert set(names) | {"mean(ih)", "mean(pt)"} == set(by_obs)
    k = chi_sum["components"].index("spans")
    heads = [i for i, n in enumerate(names) if n.startswith("ih[")]
    for i, n in enumerate(names):  # the chi column is the run's own estimate
        assert by_obs[n]["chi"] == pytest.approx(chi_sum["chi"][i][k])
    for r in rows:
        assert all(math.isfinite(r[key]) for key in ("chi", "fd", "fd_se", "z")) and r["fd_se"] > 0
        assert r["sign_agrees"] == (np.sign(r["fd"]) == np.sign(r["chi"]))
        assert r["central"] and r["delta"] == 0.05
    # the mean over heads is the mean of the per-head finite differences
    assert by_obs["mean(ih)"]["fd"] == pytest.approx(np.mean([by_obs[names[i]]["fd"] for i in heads]))
    report = (results["induction_accelerate"].run_dir / "report.md").read_text()
    assert "Finite-difference check" in report
    assert results["quickstart"].chi["finite_difference"] is None  # no check: none run


def test_the_ci_quickstart_estimates_its_movable_columns_by_the_coupled_estimator(results):
    """specs/ci/quickstart.pat sets estimator = coupled(delta=0.05, chains=4): every column the
    patterning can move is the coupled estimate, the covariance one beside it, both halves for the
    split-half solve, a posterior check of the solved step and a verdict."""
    r = results["quickstart"]
    chi = r.chi
    assert chi["estimator"] == "coupled" and chi["coupled"]["chains"] == 4
    assert chi["coupled"]["components"] == chi["components"]  # nothing is fixed in this spec
    assert len(chi["halves"]) == 2 and chi["coupled"]["chi_covariance"] != chi["chi"]
    sol = r.data["solves"]["solve.accelerate"]
    assert sol["reproducibility"] is not None
    assert {p["target"] for p in sol["posterior_check"]} == {"raise mean(ih)", "hold loss(markov)"}
    assert [t["target"] for t in r.data["verdict"]["targets"]] == ["raise mean(ih)", "hold loss(markov)"]

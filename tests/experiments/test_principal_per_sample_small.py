"""End-to-end runs of specs/ci/induction_principal.pat (moves along principal directions, with a
hold and with rounds) and specs/ci/induction_per_sample.pat (per-example χ over two pools of text
windows, a per-sample patterning, a train step on its weights, every verification arm).

Induction does not form at this size; the assertions are about the pipeline: the chosen mode and
its direction, the trust region, the exact identity "a pool's χ is the mean of its examples' χ",
the per-example weights written and used, and a curve per arm and seed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from patternlang.api import run
from patternlang.runtime.options import RunOptions
from patternlang.data.component import ExampleComponent
from patternlang.runtime.services.mixtures import reweight_pools

ROOT = Path(__file__).resolve().parents[2]
SPECS = ["induction_principal", "induction_per_sample"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    torch.set_num_threads(1)
    options = RunOptions(device="cpu", workers=1)
    return {name: run(ROOT / "specs" / "ci" / f"{name}.pat", tmp_path_factory.mktemp(name),
                      options=options) for name in SPECS}


def _step_dir(res, prefix: str) -> Path:
    return next((res.run_dir / "steps").glob(f"{prefix}-*"))


@pytest.mark.parametrize("name", SPECS)
def test_every_step_completes(results, name):
    steps = results[name].data["steps"]
    assert all(s["complete"] for s in steps.values() if s["kind"] != "report"), steps


def test_moves_along_the_chosen_mode(results):
    sols = results["induction_principal"].data["solves"]
    acc, delay = (sols[f"solve.{n}"]["rounds"][0]["solve"] for n in ("accelerate", "delay"))
    for sol in (acc, delay):
        (mode,) = sol["modes"]
        e = np.array([mode["direction"][c] for c in sol["components"]])
        assert abs(e.sum()) < 1e-9 and np.linalg.norm(e) == pytest.approx(1.0)
        (t,) = [t for t in sol["targets"] if t["kind"] == "move"]
        assert 0 <= t["angle_deg"] < 90 and t["predicted"] * t["desired"] > 0
        w = np.array([sol["weights"][c] for c in sol["components"]])
        h0 = np.array([sol["h0"][c] for c in sol["components"]])
        assert np.sum(w * np.log(w / h0)) <= 0.05 + 1e-4
    # chosen by what it moves: the selected mode has the largest gain, and raises mean(ih)
    gains = acc["modes"][0]["gains"]
    assert acc["modes"][0]["mode"] == int(np.argmax(gains)) and acc["modes"][0]["loading"] != 0
    assert delay["modes"][0]["mode"] == 0 and delay["modes"][0]["loading"] is None
    assert len(sols["solve.accelerate"]["rounds"]) == 2  # the mode is re-chosen on round 2's chi
    assert sols["solve.accelerate"]["rounds"][1]["solve"]["modes"]
    report = (results["induction_principal"].run_dir / "report.md").read_text()
    assert "Steps along principal directions" in report


def test_pool_chi_is_the_mean_of_its_examples(results):
    res = results["induction_per_sample"]
    chi_sum = res.susceptibility()
    z = np.load(_step_dir(res, "susceptibility-early") / "per_sample.npz")
    names = [str(n) for n in z["names"]]
    assert chi_sum["per_sample"]["pools"] == {"code_": 256, "prose_": 128}
    for k in ("code_", "prose_"):
        cols = [i for i, n in enumerate(names) if n.startswith(k + "[")]
        j = chi_sum["components"].index(k)
        np.testing.assert_allclose(z["chi"][:, cols].mean(1), np.asarray(chi_sum["chi"])[:, j],
                                   rtol=1e-9, atol=1e-12)


def test_per_sample_weights_written_and_used(results):
    res = results["induction_per_sample"]
    sol = res.data["solves"]["solve.accelerate"]["rounds"][0]["solve"]
    assert sol["status"] in ("optimal", "optimal_inaccurate")
    assert sol["per_sample"]["atoms"] == 2 + 256 + 128 and sol["per_sample"]["kl"] <= 0.05 + 1e-6
    # resolution of each target on the component-level chi, as for a component solve
    assert [r["label"] for r in sol["resolved"]] == [t["label"] for t in sol["targets"]]
    for r in sol["resolved"]:
        assert r["resolved"] == (r["max_abs_z"] >= 3) and set(r["z"]) == set(sol["components"])
    z = np.load(_step_dir(res, "solve-accelerate") / "sample_weights.npz")
    for k in ("code_", "prose_"):
        assert z[k].sum() == pytest.approx(1.0) and (z[k] >= 0).all()
        assert z[f"{k}.atoms"].sum() == pytest.approx(sol["weights"][k])
        assert z[k].std() > 0  # the examples got different weights
    assert sol["weights"]["code_"] + sol["weights"]["prose_"] >= 0.3 - 1e-6
    raised = next(t for t in sol["targets"] if t["kind"] == "raise")
    assert raised["predicted"] > 0 and math.isfinite(raised["predicted"])
    assert res.data["train"]["train.patterned"]["mixture"] == pytest.approx(sol["weights"])
    ver = res.data["verification"]["verify.accelerate"]
    assert set(ver["arms"]) == {"baseline", "patterned", "opposite", "control", "orthogonal"}
    for body in ver["arms"].values():
        assert len(body["curves"]["mean(ih)"]) == 2
    assert ver["arms"]["patterned"]["weights"] == pytest.approx(sol["weights"])


def test_reweighted_pool_draws_by_its_weights():
    pool = ExampleComponent("p", {"tokens": torch.arange(8).reshape(4, 2)})
    out = reweight_pools({"p": pool, "q": None}, {"p": np.array([0.0, 0.0, 0.25, 0.75])})
    rows = out["p"].sample(4000, torch.Generator().manual_seed(0))["tokens"][:, 0] // 2
    counts = np.bincount(rows.numpy(), minlength=4) / 4000
    np.testing.assert_allclose(counts, [0, 0, 0.25, 0.75], atol=0.03)
    assert out["q"] is None and pool.weights is None  # the original component is untouched

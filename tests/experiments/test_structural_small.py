"""End to end: specs/ci/induction_structural.pat — component susceptibilities of every head (and the
embedding) with per-token columns, devinterp's definition with per-sample columns, the standardized
PCA and its figure, and a patterning along the principal mode of the parts' loss changes.

The assertions are about the pipeline (CI size: nothing is resolved)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from patternlang.api import run
from patternlang.runtime.options import RunOptions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    torch.set_num_threads(1)
    return run(ROOT / "specs" / "ci" / "induction_structural.pat", tmp_path_factory.mktemp("structural"),
               options=RunOptions(device="cpu", workers=1))


def _dir(res, prefix: str) -> Path:
    (d,) = [p for p in (res.run_dir / "steps").iterdir() if p.name.rsplit("-", 1)[0] == prefix]
    return d


def test_parts_expand_to_one_sampling_each(result):
    steps = result.data["steps"]
    assert all(s["complete"] for s in steps.values())
    for part in ("l0h0", "l0h1", "l1h0", "l1h1", "embed"):
        assert f"sample.heads.{part}" in steps
    plan = json.loads((result.run_dir / "plan.json").read_text())
    by_id = {s["id"]: s for s in plan["steps"]}
    assert by_id["sample.heads.l1h0"]["sampler"]["restrict"] == ["l1h0"]
    assert by_id["sample.heads.embed"]["sampler"]["restrict"] == ["embed.*", "pos_embed.*"]
    # the part samplings share the full sampling's probe sets: the same sampler seed
    assert by_id["sample.heads.l1h0"]["sampler"]["seed"] == by_id["sample.heads"]["sampler"]["seed"]
    assert by_id["susceptibility.heads_dev"]["definition"] == "devinterp"


def test_component_matrix_and_pca(result):
    z = np.load(_dir(result, "susceptibility-heads") / "component_chi.npz")
    rows = list(z["rows"])
    assert rows == ["l0h0", "l0h1", "l1h0", "l1h1", "embed"]
    names = list(z["names"])
    tokens = [n for n in names if "@" in n]
    assert len(tokens) == 3 * 4 * 15  # 3 components x probe 4 x 15 predicted positions
    assert z["chi"].shape == (5, len(names)) and np.all(np.isfinite(z["chi"]))
    assert z["loadings"].shape[1] == 5 and z["scores"].shape[1] == len(tokens)
    assert np.isclose(z["explained"].sum(), 1.0)
    assert np.allclose(z["standardized"].mean(axis=0), 0, atol=1e-10)
    chi = result.data["steps"]["susceptibility.heads"]
    res = json.loads((result.run_dir / "results.json").read_text())
    sm = res["susceptibilities"]["susceptibility.heads"] if "susceptibilities" in res else None
    comp = (sm or {}).get("component") or json.loads(
        (_dir(result, "susceptibility-heads") / "component_chi.json").read_text())
    assert comp["definition"] == "covariance" and comp["figure"] == "component_pca.png"
    assert (_dir(result, "susceptibility-heads") / "component_pca.png").stat().st_size > 0
    assert chi["complete"]


def test_devinterp_definition_per_sample(result):
    z = np.load(_dir(result, "susceptibility-heads_dev") / "component_chi.npz")
    assert list(z["rows"]) == ["l1h0", "l1h1"]
    names = list(z["names"])
    assert sum("[" in n for n in names) == 3 * 4
    # a component's column is the mean of its sequences' columns (exact for either definition)
    for k in ("code_", "spans", "text"):
        seqs = [names.index(f"{k}[{i}]") for i in range(4)]
        assert np.allclose(z["chi"][:, seqs].mean(1), z["chi"][:, names.index(k)], rtol=1e-6, atol=1e-12)


def test_patterning_along_the_parts_mode(result):
    sol = result.data["solves"]["solve.along_heads"]["rounds"][0]["solve"]
    (mode,) = sol["modes"]
    e = np.array([mode["direction"][c] for c in sol["components"]])
    assert abs(e.sum()) < 1e-9 and np.linalg.norm(e) == pytest.approx(1.0)
    report = (result.run_dir / "report.md").read_text()
    assert "Component susceptibilities (definition: covariance)" in report
    assert "figures/component-susceptibility-heads.png" in report


def test_per_sample_patterning_along_a_pc(result):
    """`lower chi.pc[0] by A` with samples = [pool]: per-example weights from the pc row's per-example
    χ (a combination of the parts' rows), verified against random per-example tilts of the same KL."""
    z = np.load(_dir(result, "susceptibility-heads_pool") / "per_sample.npz")
    assert z["chi"].shape[1] == 64  # every example of the pool
    chi = np.load(_dir(result, "susceptibility-heads_pool") / "chi.npz")
    rows = [str(n) for n in chi["obs_names"]]
    assert rows[:4] == ["dL[l0h0]", "dL[l0h1]", "dL[l1h0]", "dL[l1h1]"] and rows[4:] == [f"pc[{r}]" for r in range(3)]
    sol = result.data["solves"]["solve.along_pc"]["rounds"][0]["solve"]
    assert sol["per_sample"]["pools"] == {"code_": 64}
    (t,) = sol["targets"]
    assert t["kind"] == "lower" and t["predicted"] < 0
    arms = result.data["verification"]["verify.along_pc"]["arms"]
    assert {"baseline", "patterned", "random1", "random2", "random3"} <= set(arms)

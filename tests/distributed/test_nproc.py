"""`patc run --nproc 2` (torch.distributed, gloo on CPU) reproduces the single-process run.

The tiny spec (`tiny.pat`: 1-layer attn_only trained on 2 seeds, sampled at both (2 centers) with
3 chains in groups of 2 and 1, 10 draws, a verify of baseline, patterned, one random arm and the regression arm x 2 seeds)
runs once on one process and once on two ranks; chi, its errors, the LLCs, the solved weights and
the verification curves must be bit-identical (same chain groups, merged in chain order). A second
test resumes the two-rank run's sample step on one process from one surviving part.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # ~40-70 s on a loaded 2-core machine (three runs, five processes)

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).with_name("tiny.pat")


def _patc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "PATTERNLANG_WORKERS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
              "PATTERNLANG_CHAIN_GROUP", "PATTERNLANG_AUTOCAST", "PATTERNLANG_COMPILE"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "patternlang", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _step_file(run: Path, kind: str, name: str) -> Path:
    found = sorted(run.glob(f"steps/{kind}-*/{name}"))
    assert found, f"no {kind} step file {name} in {run}"
    return found[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("nproc")
    spec = tmp / "tiny.pat"
    shutil.copy(SPEC, spec)
    one = _patc("run", str(spec), "--out", str(tmp / "one"), "--quiet", cwd=tmp)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _patc("run", str(spec), "--out", str(tmp / "two"), "--nproc", "2", "--quiet", cwd=tmp)
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp / "one", tmp / "two"


def test_two_ranks_split_the_units(runs):
    _, two = runs
    log = [json.loads(line) for line in (two / "log.jsonl").read_text().splitlines()]
    assert log[0]["event"] == "run_start" and log[0]["world"] == 2
    parts = sorted(p.name for p in _step_file(two, "sample", "parts").iterdir())
    # units (center, group): rank 0 ran chains 0-1 of both centers, rank 1 chain 2 of both
    assert parts == ["seed0-c0-1", "seed0-c2-2", "seed1-c0-1", "seed1-c2-2"]
    assert sorted(p.name for p in _step_file(two, "train", "parts").iterdir()) == ["seed0", "seed1"]
    # verification runs, by content: (baseline, patterned, random1, regression) x 2 seeds + 3 proxies
    assert len(list((two / "runs").glob("*/done.json"))) == 11


def test_chi_llc_weights_equal_single_process(runs):
    one, two = runs
    a, b = np.load(_step_file(one, "susceptibility", "chi.npz")), \
        np.load(_step_file(two, "susceptibility", "chi.npz"))
    for key in ("chi", "se", "se_batch", "mean_obs"):
        assert np.array_equal(a[key], b[key], equal_nan=True), key
    ra, rb = (json.loads((r / "results.json").read_text()) for r in runs)
    assert ra["llc"] == rb["llc"]
    assert [len(c["llc_per_chain"]) for c in ra["llc"]["sample.chi"]["centers"]] == [3, 3]
    assert ra["train"] == rb["train"]
    sa, sb = ra["solves"]["solve.accelerate"], rb["solves"]["solve.accelerate"]
    assert sa["final_weights"] == sb["final_weights"]
    va, vb = ra["verification"]["verify.accelerate"], rb["verification"]["verify.accelerate"]
    assert va["arms"] == vb["arms"]
    assert va["validation"] == vb["validation"]  # the regression arm's proxies were split over ranks
    assert (two / "report.md").exists()


def test_resume_two_rank_parts_on_one_process(runs, tmp_path):
    """Parts written by different ranks resume on any number of processes: drop the sample step's
    summary and rank 1's part, resume on one process, get the same moments."""
    _, two = runs
    run = tmp_path / "two"
    shutil.copytree(two, run)
    before = dict(np.load(_step_file(run, "sample", "moments-seed0.npz")))
    sdir = _step_file(run, "sample", "done.json").parent
    (sdir / "done.json").unlink()
    shutil.rmtree(sdir / "parts" / "seed0-c2-2")
    kept = (sdir / "parts" / "seed0-c0-1" / "moments.npz").stat().st_mtime_ns
    res = _patc("run", str(run / "spec" / "tiny.pat"), "--out", str(run), "--resume", "--quiet",
                cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (sdir / "parts" / "seed0-c0-1" / "moments.npz").stat().st_mtime_ns == kept
    after = dict(np.load(sdir / "moments-seed0.npz"))
    for key in ("n", "sx", "sxy", "nbat", "fxy"):
        assert np.array_equal(before[key], after[key]), key


def test_failure_on_ranks_is_the_exit_code(tmp_path):
    bad = tmp_path / "bad.pat"
    bad.write_text("model m = attn_only(layers=1, heads=1, d_model=8, context=4, vocab=8)\n"
                   "train t { model = m  data = nowhere  steps = 1 }\n")
    res = _patc("run", str(bad), "--out", str(tmp_path / "r"), "--nproc", "2", cwd=tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]  # the spec error's code, from the ranks
    assert "nowhere" in res.stderr

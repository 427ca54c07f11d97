"""bench/replicate.py end to end at CI size: two independent χ of specs/ci/quickstart.pat (every
sampler seed re-drawn, the training shared), their targeted rows, the cosine of the solved steps and
each replicate's weights retrained (``--verify``: the baseline and patterned arms)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_two_replicates_of_the_ci_quickstart(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "replicate.py"),
                           str(ROOT / "specs" / "ci" / "quickstart.pat"), "--n", "2",
                           "--verify", "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                               "PATTERNLANG_WORKERS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    sol = out["solves"]["solve.accelerate"]
    assert out["bench"] == "replicate" and out["n"] == 2 and len(sol["cosines"]) == 1
    assert -1 <= out["ratio"] <= 1 and out["ratio"] == sol["min_cosine"]
    row = sol["rows"]["raise mean(ih)"]  # the coupled row the solve's resolution judges
    assert len(row["z"]) == 2 and len(row["se_honesty"]) == 3  # three free components
    assert [set(r) for r in sol["resolved"]] == [{"raise mean(ih)", "hold loss(markov)"}] * 2
    # the two replicates are different draws of everything random
    assert row["z"][0] != row["z"][1] and sol["cosines"][0] != 1.0
    # each replicate's weights retrained: the baseline's onsets are the same (no χ in them), the
    # patterned arm's come from that replicate's weights
    (v1, v2) = sol["verified"]
    assert set(v1["onsets"]) == {"baseline", "patterned"}
    assert v1["onsets"]["baseline"] == v2["onsets"]["baseline"]
    assert len(v1["onsets"]["patterned"]["mean(ih)"]["per_seed"]) == 2
    assert {"mean(ih)", "loss(markov)"} <= set(v1["calibration"])

"""Iterative patterning: rounds of train -> re-estimate chi -> re-solve."""

from __future__ import annotations

import json

from .tiny import write_spec

import patternlang


def test_two_rounds_resolve_around_the_moved_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    spec = write_spec(tmp_path, target="raise mean(ih) by 0.1\n  rounds = 2\n  round_steps = 10",
                      constraints="l2(base) <= 0.05")
    res = patternlang.run(spec, tmp_path / "out")
    step = json.loads(next((tmp_path / "out" / "steps").glob("solve-up-*/done.json")).read_text())
    r1, r2 = step["rounds"]
    assert (r1["round"], r2["round"]) == (1, 2)
    assert step["weights"] == r2["weights"] == res.solution("solve.up")["final_weights"]
    # round 2 solves around round 1's weights, and each step obeys the trust region ||dh|| <= 0.05
    sol2 = json.loads(next((tmp_path / "out" / "steps").glob("solve-up-*/parts/round2/solution.json")).read_text())
    assert sol2["h0"] == r1["weights"]
    for a, b in ((step["baseline"], r1["weights"]), (r1["weights"], r2["weights"])):
        dist = sum((a[k] - b[k]) ** 2 for k in a) ** 0.5
        assert dist <= 0.05 + 1e-6
    # the verify arms use the final weights
    arms = res.data["verification"]["verify.up"]["arms"]
    assert arms["patterned"]["weights"] == r2["weights"]

"""Iterative patterning: rounds of train -> re-estimate chi -> re-solve."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .tiny import write_spec

import patternlang
from patternlang.runtime.results_types import SolveResult


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rounds")
    mp = pytest.MonkeyPatch()
    mp.setenv("PATTERNLANG_WORKERS", "1")
    spec = write_spec(tmp, target="raise mean(ih) by 0.1\n  rounds = 2\n  round_steps = 10",
                      constraints="l2(base) <= 0.05")
    try:
        res = patternlang.run(spec, tmp / "out")
    finally:
        mp.undo()
    solve_dir = next((tmp / "out" / "steps").glob("solve-up-*"))
    return res, solve_dir


def _json(path):
    return json.loads(path.read_text())


def test_calibration_compares_with_the_prediction_for_the_final_weights(two_rounds):
    """With rounds > 1 the patterned arm trains under the last round's weights, so calibration
    must compare its realized change with the prediction from the baseline to those weights (the
    sum of every round's predicted change), not with round 1's prediction."""
    res, solve_dir = two_rounds
    r1 = _json(solve_dir / "solution.json")
    r2 = _json(solve_dir / "parts" / "round2" / "solution.json")
    assert res.solution("solve.up")["final_weights"] == r2["weights"]
    ih = [n for n in r1["observables"] if n.startswith("ih[")]
    total = np.mean([r1["predicted"][n]["change"] + r2["predicted"][n]["change"] for n in ih])
    round1 = np.mean([r1["predicted"][n]["change"] for n in ih])
    assert abs(total - round1) > 1e-9  # the test can tell the two apart
    cal = {c["observable"]: c for c in res.data["verification"]["verify.up"]["calibration"]}
    assert cal["mean(ih)"]["predicted"] == pytest.approx(total, rel=1e-9, abs=1e-15)


def test_two_rounds_resolve_around_the_moved_weights(two_rounds):
    res, solve_dir = two_rounds
    step = _json(solve_dir / "done.json")["summary"]
    r1, r2 = step["rounds"]
    assert (r1["round"], r2["round"]) == (1, 2)
    assert step["final_weights"] == r2["weights"] == res.solution("solve.up")["final_weights"]
    assert r1["solve"]["weights"] == r1["weights"] and r2["solve"]["weights"] == r2["weights"]
    # round 2 solves around round 1's weights, and each step obeys the trust region ||dh|| <= 0.05
    assert r2["solve"]["h0"] == r1["weights"]
    for a, b in ((step["baseline"], r1["weights"]), (r1["weights"], r2["weights"])):
        dist = sum((a[k] - b[k]) ** 2 for k in a) ** 0.5
        assert dist <= 0.05 + 1e-6
    # results.json carries the same result: the final weights, and the prediction that goes with them
    sol = res.data["solves"]["solve.up"]
    assert sol["final_weights"] == r2["weights"]
    typed = res.result("solve.up")  # the same, as the typed model
    assert isinstance(typed, SolveResult) and typed.final_weights == r2["weights"]
    assert typed.rounds[1].solve.h0 == r1["weights"]
    for n, p in sol["predicted"].items():
        both = [r["solve"]["predicted"][n] for r in (r1, r2)]
        assert p["change"] == pytest.approx(both[0]["change"] + both[1]["change"])
        assert p["se"] == pytest.approx(np.hypot(both[0]["se"], both[1]["se"]))
    # the verify arms use the final weights
    arms = res.data["verification"]["verify.up"]["arms"]
    assert arms["patterned"]["weights"] == r2["weights"]

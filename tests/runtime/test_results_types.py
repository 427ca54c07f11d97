"""The typed step results: parsing by kind, old done.json files, the typed accessor, rounds."""

from __future__ import annotations

import math

import pytest

from patternlang.errors import PatRuntimeError
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import (SolveResult, SolveRound, TrainPoolResult, parse_result,
                                               read_result, result_json)
from patternlang.runtime.rundir import RunDir
from patternlang.runtime.steps.solve.runner import total_prediction

TRAIN = {"kind": "train", "steps": 30, "mixture": {"a": 0.5, "b": 0.5},
         "checkpoints": {"0": {"30": "seed0/step30.safetensors"}}, "final_loss": {"0": 1.5},
         "seconds": 2.0}


def _solution(h0: dict, w: dict, change: dict, se: dict) -> dict:
    return {"status": "optimal", "step": "solve.x", "solver": "cvxpy", "components": list(h0),
            "observables": list(change), "h0": h0, "weights": w,
            "delta_h": {k: w[k] - h0[k] for k in h0},
            "predicted": {n: {"change": change[n], "se": se[n]} for n in change},
            "targets": [], "pinv": {"delta_h": None, "weights": None, "nonnegative": None,
                                    "predicted": None},
            "diagnostics": {"singular_values": [1.0], "rank": 1, "condition": 1.0,
                            "unreachable": [], "conflicting": [], "active_constraints": [],
                            "trust_region_binding": [], "bounds_active": [], "messages": []},
            "objective": 0.0, "regularization": 1e-6, "regularization_effective": 1e-6}


def _round(r: int, h0: dict, w: dict, change: dict, se: dict) -> SolveRound:
    return SolveRound.model_validate({"round": r, "weights": w,
                                      "solve": _solution(h0, w, change, se)})


def test_parse_result_picks_the_model_by_kind_and_round_trips():
    res = parse_result(TRAIN)
    assert isinstance(res, TrainPoolResult) and res.checkpoints["0"]["30"].endswith(".safetensors")
    assert result_json(res) == TRAIN


def test_an_older_done_json_reads_as_not_done(tmp_path):
    """A schema-1 solve summary (round 1's solution at the top) is stale: the step recomputes."""
    sdir = RunDir(tmp_path).step("solve", "solve.x", "abc")
    assert read_result(sdir) is None  # not done
    sdir.mark_done({"kind": "solve", "weights": {"a": 1.0}, "baseline": {"a": 1.0},
                    "solution": {}, "observables": []})
    assert sdir.done and read_result(sdir) is None
    sdir.mark_done(TRAIN)
    assert read_result(sdir) == parse_result(TRAIN)


def test_the_typed_accessor_refuses_a_step_of_another_kind(tmp_path):
    run = RunDir(tmp_path)
    ctx = StepContext(plan=None, run=run, dir=run.step("verify", "verify.x", "h"), digest="h",
                      device=None, resume=False, progress=None,
                      results={"train.t": parse_result(TRAIN)}, dirs={})
    assert ctx.result("train.t", TrainPoolResult).steps == 30
    with pytest.raises(PatRuntimeError, match="TrainPoolResult, not a SolveResult"):
        ctx.result("train.t", SolveResult)


def test_total_prediction_sums_rounds_and_adds_errors_in_quadrature():
    h0, h1, h2 = {"a": 0.5, "b": 0.5}, {"a": 0.6, "b": 0.4}, {"a": 0.7, "b": 0.3}
    r1 = _round(1, h0, h1, {"x": 0.1, "y": -0.2}, {"x": 0.03, "y": 0.0})
    r2 = _round(2, h1, h2, {"x": 0.05, "y": 0.1}, {"x": 0.04, "y": 0.01})
    assert total_prediction([r1]) == r1.solve.predicted  # one round: round 1's prediction
    both = total_prediction([r1, r2])
    assert both["x"].change == pytest.approx(0.15) and both["x"].se == pytest.approx(0.05)
    assert both["y"].change == pytest.approx(-0.1) and both["y"].se == pytest.approx(0.01)
    assert math.isclose(both["y"].change, -0.2 + 0.1)


def test_report_of_a_run_directory_from_an_older_plan_is_a_clear_error(tmp_path):
    from patternlang.compiler import compile_file
    from patternlang.runtime.report import render

    from .tiny import write_spec

    text = compile_file(write_spec(tmp_path)).to_json()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "plan.json").write_text(text.replace('"nbeta": 5.77', '"nbeta": null', 1))
    assert '"nbeta": 5.77' in text  # 16 / log 16, resolved by the compiler
    with pytest.raises(PatRuntimeError, match="cannot be read as a plan"):
        render(tmp_path / "run")


def test_schema2_names_are_read_as_schema3():
    """Issue 25 renamed a round's ``solution`` to ``solve`` and a finite-difference row's ``eps``
    to ``delta``; a done.json written before reads unchanged in value."""
    from patternlang.runtime.schema import upgrade_document, upgrade_result

    old = {"kind": "susceptibility", "finite_difference": [{"component": "a", "eps": 0.05}]}
    assert upgrade_result(old)["finite_difference"] == [{"component": "a", "delta": 0.05}]
    assert old["finite_difference"][0] == {"component": "a", "eps": 0.05}  # the input is untouched
    solve = {"kind": "solve", "rounds": [{"round": 1, "solution": {"status": "optimal"}}]}
    assert upgrade_result(solve)["rounds"] == [{"round": 1, "solve": {"status": "optimal"}}]
    doc = upgrade_document({"schema": 2, "solutions": {"solve.x": solve}, "llc": {}})
    assert doc["schema"] == 3 and "solutions" not in doc
    assert doc["solves"]["solve.x"]["rounds"][0]["solve"] == {"status": "optimal"}
    assert upgrade_document(doc) is doc  # a current document is left as it is

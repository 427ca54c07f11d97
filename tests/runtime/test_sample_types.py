"""The sample step's typed records (runtime/sample_types.py) write back the JSON their writers
gave them, key for key and in order, so typing them left results.json unchanged; and a report
section takes its step's typed result with ``Section.of``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patternlang.runtime.markdown import Section
from patternlang.runtime.results_types import ObserveResult, SampleResult, result_json
from patternlang.runtime.rundir import RunDir
from patternlang.runtime.sample_types import DrawsAutoRecord, LLCRow, StepScanRecord, TargetRowRecord

ROW = {"label": "raise mean(ih)", "components": ["a", "b"], "value": [0.5, None], "se": [0.1, None],
       "best_abs_z": 5.0}
# the three shapes walk() and _row() write: measured (with the targeted rows), diverged, not run
POINTS = [{"step_size": 0.01, "stable": True, "reason": None, "llc": 3.0, "llc_se": 0.1, "rhat": 1.0,
           "ess": 500.0, "burnin": 200, "rows": {"raise mean(ih)": ROW}},
          {"step_size": 0.005, "stable": False, "reason": "every chain diverged", "llc": None,
           "llc_se": None, "burnin": 200},
          {"step_size": 0.0025, "stable": False, "llc": None, "llc_se": None,
           "reason": "not run: the localization time exceeds max_burnin 2000"}]
OLD_SETTINGS = {"max_step": 0.01, "factor": 2.0, "points": 3, "draws": 200, "burnin": 200,
                "rel_tol": 0.1, "chains": 4}  # a scan saved before max_burnin, max_points, chi_rows


def _dumps(x) -> str:
    return json.dumps(x)


def test_a_step_scan_writes_back_every_point_as_its_writer_wrote_it():
    scan = {"rows": POINTS, "plateau": None, "chosen": 0.01, "warnings": ["no plateau"],
            "settings": OLD_SETTINGS}
    record = StepScanRecord.model_validate(scan)
    assert _dumps(result_json(record)) == _dumps(scan)  # no "rhat": null added, "reason" stays last
    assert record.rows[0].rows["raise mean(ih)"].value == [0.5, None]
    assert record.rows[1].rhat is None and record.settings.chi_rows is None


def test_draws_auto_rows_are_targeted_rows_or_llcs():
    auto = {"z": 3.0, "max": 400, "chunk": 100, "rule": "targets", "draws": 200, "resolved": True,
            "chunks": [{"draws": 100, "best_abs_z": {"raise mean(ih)": None}, "resolved": False},
                       {"draws": 200, "best_abs_z": {"raise mean(ih)": 5.0}, "resolved": True,
                        "equilibrated": True}],
            "rows": [ROW], "warnings": []}
    record = DrawsAutoRecord.model_validate(auto)
    assert isinstance(record.rows[0], TargetRowRecord)
    assert _dumps(result_json(record)) == _dumps(auto)
    llc = {**auto, "rule": "llc", "rows": [{"label": "LLC at seed0", "llc": 3.0, "llc_se": 0.2}]}
    assert isinstance(DrawsAutoRecord.model_validate(llc).rows[0], LLCRow)


def test_a_sample_result_with_both_records_round_trips_through_done_json():
    data = {"kind": "sample", "seconds": 1.0, "nbeta": 10.0, "centers": [], "llc_mean": 3.0,
            "llc_se": 0.1, "observables": [], "warnings": [], "moments": [], "step_size": 0.01,
            "step_scan": {"rows": POINTS, "plateau": [0.01], "chosen": 0.01, "warnings": [],
                          "settings": {**OLD_SETTINGS, "max_burnin": 2000, "max_points": 14,
                                       "chi_rows": True}},
            "draws": 200, "draws_auto": None}
    assert _dumps(result_json(SampleResult.model_validate(data))) == _dumps(data)


def test_a_section_takes_its_result_by_type(tmp_path: Path):
    res = ObserveResult(per_seed=[], mean={"ih": 0.5})
    s = Section("observe.x", res, tmp_path, RunDir(tmp_path).step("observe", "observe.x", "0" * 16))
    assert s.of(ObserveResult).mean == {"ih": 0.5}
    with pytest.raises(TypeError, match="not a SampleResult"):
        s.of(SampleResult)

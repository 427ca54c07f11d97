"""step = auto and preconditioner = rmsprop from a spec, end to end through `patc run`."""

from __future__ import annotations

import json

from .test_run import patc
from .tiny import write_spec


def test_step_auto_scans_records_and_samples_at_the_choice(tmp_path):
    spec = write_spec(tmp_path)  # up to the susceptibility (the solve is not what is tested here)
    spec.write_text(spec.read_text().split("patterning up")[0].replace("step = 1e-3  nbeta = auto  gamma = 300  chains = 4  draws = 12",
                                             "step = auto  nbeta = auto  gamma = 300  chains = 4  draws = 12  "
                                             "preconditioner = rmsprop"))
    shown = patc("compile", str(spec))  # the plan prints "step auto" (it once crashed on it)
    assert shown.returncode == 0 and "step auto, gamma 300" in shown.stdout, shown.stderr
    res = patc("run", str(spec), "--out", str(tmp_path / "out"), "--quiet")
    assert res.returncode == 0, res.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    llc = results["llc"]["sample.chi"]
    scan = llc["step_scan"]
    assert llc["step_size"] == scan["chosen"] and scan["rows"][0]["step_size"] == 1e-2
    assert scan["chosen"] in [r["step_size"] for r in scan["rows"] if r["stable"]]
    assert (scan["plateau"] is None) == bool(scan["warnings"])
    assert "chi_z" in results["susceptibilities"]["susceptibility.chi"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "step = auto chose" in report


def test_require_resolved_is_an_error_naming_the_target_and_keeps_the_solution(tmp_path):
    spec = write_spec(tmp_path)  # 4 chains x 12 draws: the ih row cannot be resolved
    spec.write_text(spec.read_text().replace("  subject to {", "  require resolved\n  subject to {"))
    res = patc("run", str(spec), "--out", str(tmp_path / "out"), "--quiet")
    assert res.returncode == 1, res.stderr
    assert "require resolved" in res.stderr and "mean(ih)" in res.stderr and "Traceback" not in res.stderr
    assert list((tmp_path / "out" / "steps").glob("solve-up-*/solution.json"))


def test_step_auto_judges_the_plateau_on_the_targeted_chi_rows_too(tmp_path):
    from itertools import combinations

    from patternlang.engine.sampler.step_scan import agree

    spec = write_spec(tmp_path, target="raise mean(ih) by 0.01")  # with its patterning
    spec.write_text(spec.read_text().replace("step = 1e-3  nbeta", "step = auto  nbeta"))
    res = patc("run", str(spec), "--out", str(tmp_path / "out"), "--quiet")
    assert res.returncode == 0, res.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    scan = results["llc"]["sample.chi"]["step_scan"]
    assert scan["settings"]["chi_rows"] is True
    run_points = [r for r in scan["rows"] if r["llc"] is not None]
    for r in run_points:  # every point that ran records the targeted row, per component, with SE
        row = r["rows"]["raise mean(ih)"]
        assert row["components"] == ["reps", "noise"] and len(row["value"]) == len(row["se"]) == 2
    if scan["plateau"]:  # the recorded plateau satisfies the rule, rows included
        window = [r for r in scan["rows"] if r["step_size"] in scan["plateau"]]
        assert all(agree(a, b, scan["settings"]["rel_tol"]) for a, b in combinations(window, 2))
    else:
        assert "targeted chi rows" in scan["warnings"][0]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "and the targeted chi rows" in report and "| raise mean(ih) |" in report
    assert list((tmp_path / "out" / "figures").glob("step-scan-*.png"))

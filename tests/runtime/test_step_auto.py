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

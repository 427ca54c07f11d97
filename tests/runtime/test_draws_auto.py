"""draws = auto(z, max, chunk) from a spec, end to end through `patc run`: the stopping rule, the
chunk trace, determinism against fixed draws, re-use of chunks, and the LLC rule."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .test_run import patc
from .tiny import write_spec

TARGET = "raise mean(ih) by 0.01"  # feasible under kl(base) <= 0.1 with this tiny run's chi


def _spec(tmp: Path, draws: str, name: str, upto_patterning: bool = False) -> Path:
    spec = write_spec(tmp, target=TARGET, name=name)
    # sampler seed 1: the movable-step |z| of the row rises from 0.45 (12 draws) to 1.04 (24)
    text = spec.read_text().replace("draws = 12", f"draws = {draws}").replace(
        "batch = 16 }", "batch = 16  seed = 1 }")
    spec.write_text(text.split("patterning up")[0] if upto_patterning else text)
    return spec


def _run(spec: Path, out: Path, *extra: str) -> dict:
    res = patc("run", str(spec), "--out", str(out), "--quiet", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads((out / "results.json").read_text())


def _numbers(r: dict) -> tuple:
    llc = r["llc"]["sample.chi"]
    sus = r["susceptibilities"]["susceptibility.chi"]
    return (llc["llc_mean"], llc["llc_se"], [c["llc_per_chain"] for c in llc["centers"]], sus["chi"],
            sus["chi_se"], sus["draws"], r["solves"]["solve.up"]["final_weights"])


def test_stops_when_the_targeted_row_is_resolved_and_equals_fixed_draws(tmp_path):
    # z = 0.8: the row's movable-step |z| is 0.45 after 12 draws and 1.04 after 24, so two chunks
    auto = _run(_spec(tmp_path, "auto(z=0.8, max=60, chunk=12)", "auto.pat"), tmp_path / "auto")
    info = auto["llc"]["sample.chi"]["draws_auto"]
    assert info["rule"] == "targets" and info["resolved"] and info["draws"] == 24
    assert [c["draws"] for c in info["chunks"]] == [12, 24]
    assert [c["resolved"] for c in info["chunks"]] == [False, True]
    assert info["chunks"][-1]["best_abs_z"]["raise mean(ih)"] >= 0.8 > info["chunks"][0]["best_abs_z"]["raise mean(ih)"]
    assert auto["llc"]["sample.chi"]["draws"] == 24 and not info["warnings"]
    # the solver's z for the target is the one the rule stopped on
    solved = auto["solves"]["solve.up"]["rounds"][0]["solve"]["resolved"][0]
    assert abs(solved["movable_z"] - info["chunks"][-1]["best_abs_z"]["raise mean(ih)"]) < 1e-9
    fixed = _run(_spec(tmp_path, "24", "fixed.pat"), tmp_path / "fixed")
    assert _numbers(auto) == _numbers(fixed)  # two chunks of 12 = one run of 24, exactly
    report = (tmp_path / "auto" / "report.md").read_text()
    assert "draws = auto" in report and "| 24 |" in report


def test_budget_spent_warns_with_the_draws_needed_and_reuses_chunks(tmp_path):
    out = tmp_path / "out"
    first = _run(_spec(tmp_path, "auto(z=50, max=24, chunk=12)", "a.pat"), out)
    info = first["llc"]["sample.chi"]["draws_auto"]
    assert not info["resolved"] and info["draws"] == 24 and len(info["chunks"]) == 2
    best = info["chunks"][-1]["best_abs_z"]["raise mean(ih)"]
    (warning,) = info["warnings"]
    need = math.ceil(24 * (50 / best) ** 2)  # N (z / |z_best|)^2
    assert "'raise mean(ih)'" in warning and f"{best:.2g}" in warning and str(need) in warning
    assert warning in first["llc"]["sample.chi"]["warnings"]
    store = next((out / "steps").glob("chunks-sample-chi-*"))
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in (store / "parts").glob("*/done.json")}
    assert sorted(stamps) == ["seed0-c0-1-d12", "seed0-c0-1-d24", "seed0-c2-3-d12", "seed0-c2-3-d24"]
    # a larger budget re-uses the sealed chunks and samples only the new one
    more = _run(_spec(tmp_path, "auto(z=50, max=36, chunk=12)", "b.pat"), out)
    assert more["llc"]["sample.chi"]["draws"] == 36
    assert {k: p.stat().st_mtime_ns for k, p in ((p.parent.name, p) for p in
            (store / "parts").glob("*/done.json")) if k in stamps} == stamps
    assert _numbers(more) == _numbers(_run(_spec(tmp_path, "36", "c.pat"), tmp_path / "fixed"))
    # an interrupted run (last chunk and result lost) continues at its next chunk with --resume
    for d in [*store.glob("parts/*-d36"), *(out / "steps").glob("sample-chi-*")]:
        os.remove(d / "done.json")
    again = _run(_spec(tmp_path, "auto(z=50, max=36, chunk=12)", "b.pat"), out, "--resume")
    assert _numbers(again) == _numbers(more)


def test_without_a_patterning_the_rule_is_the_llc_standard_error(tmp_path):
    r = _run(_spec(tmp_path, "auto(z=4, max=36, chunk=12)", "llc.pat", upto_patterning=True),
             tmp_path / "out")
    info = r["llc"]["sample.chi"]["draws_auto"]
    assert info["rule"] == "llc" and list(info["chunks"][0]["best_abs_z"]) == ["LLC at seed0"]
    llc = r["llc"]["sample.chi"]
    last = info["chunks"][-1]
    assert abs(last["best_abs_z"]["LLC at seed0"] - abs(llc["llc_mean"]) / llc["llc_se"]) < 1e-9
    assert last["resolved"] == (last["best_abs_z"]["LLC at seed0"] >= 4)
    assert info["draws"] == last["draws"] and (info["resolved"] or info["draws"] == 36)

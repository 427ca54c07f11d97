"""End to end through `patc run`: outputs, the step cache, resume after kill -9, failure paths."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .tiny import write_spec

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PATTERNLANG_WORKERS": "1",
       "PATTERNLANG_CHAIN_GROUP": "2", "PYTHONPATH": str(ROOT)}


def patc(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patternlang", *args], capture_output=True,
                          text=True, env=env or ENV, cwd=ROOT, timeout=600)


def _numbers(run_dir: Path) -> dict:
    r = json.loads((run_dir / "results.json").read_text())
    return {"llc": r["llc"], "chi": {k: (v["chi"], v["chi_se"]) for k, v in r["susceptibilities"].items()},
            "weights": {k: v["final_weights"] for k, v in r["solves"].items()},
            "verify": {k: v["arms"] for k, v in r["verification"].items()}}


def _events(run_dir: Path, event: str) -> list[str]:
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    return [json.loads(x)["step"] for x in lines if json.loads(x)["event"] == event]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    spec = write_spec(d)
    out = patc("run", str(spec), "--out", str(d / "out"), "--quiet")
    assert out.returncode == 0, out.stderr
    shutil.copy(d / "out" / "results.json", d / "first_results.json")  # later tests reuse `out`
    return d, spec, _numbers(d / "out")


def test_run_writes_plan_results_report_and_figures(first_run):
    d, *_ = first_run
    out = d / "out"
    for name in ("plan.json", "results.json", "report.md", "log.jsonl", "spec/tiny.pat"):
        assert (out / name).exists(), name
    # the run options, filled from the PATTERNLANG_* variables of ENV, are recorded
    options = json.loads((out / "options.json").read_text())
    assert options == {"device": "auto", "autocast": "off", "compile": None, "chain_group": 2,
                       "workers": 1}
    r = json.loads((out / "results.json").read_text())
    assert all(s["complete"] for s in r["steps"].values())
    # tracked and measured values reach results.json and the report, inline ones by their text
    tracked = r["tracked"]["train.pre"]
    assert tracked["steps"] == [0, 10, 20, 30] and set(tracked["seeds"]["0"]) == {"mean(ih)", "loss(reps)"}
    assert all(len(v) == 4 for v in tracked["seeds"]["0"].values())
    measured = r["observations"]["observe.final_ih"]
    assert set(measured["mean"]) == {"ih[l0h0]", "ih[l0h1]", "mean(ih)"}
    assert measured["mean"]["mean(ih)"] == pytest.approx(
        (measured["mean"]["ih[l0h0]"] + measured["mean"]["ih[l0h1]"]) / 2)
    # nbeta = auto is resolved once, by the compiler; the sampler ran with it and reports it
    plan = json.loads((out / "plan.json").read_text())
    sampler = next(s for s in plan["steps"] if s["kind"] == "sample")["sampler"]
    assert sampler["nbeta"] == 16 / math.log(16)
    assert r["llc"]["sample.chi"]["nbeta"] == r["susceptibilities"]["susceptibility.chi"]["nbeta"] \
        == sampler["nbeta"]
    chi = r["susceptibilities"]["susceptibility.chi"]
    assert len(chi["chi"]) == len(chi["observables"]) == 3  # ih[l0h0], ih[l0h1], loss(reps)
    assert chi["components"] == ["reps", "noise"]
    sol = r["solves"]["solve.up"]
    assert sol["rounds"][0]["solve"]["status"] in ("optimal", "optimal_inaccurate")
    assert abs(sum(sol["final_weights"].values()) - 1) < 1e-6
    arms = r["verification"]["verify.up"]["arms"]
    assert set(arms) == {"baseline", "patterned"}
    assert arms["patterned"]["weights"] == pytest.approx(sol["final_weights"], abs=1e-9)
    report = (out / "report.md").read_text()
    steps = len(r["steps"]) - 1
    assert f"all {steps} steps complete." in report
    assert "| mean(ih) |" in report and "### Measurement: `observe.final_ih`" in report
    figs = re.findall(r"\]\((figures/[^)]+)\)", report)
    assert len(figs) >= 4 and all((out / f).stat().st_size > 1000 for f in figs)


def test_changing_only_the_target_reuses_train_and_sample(first_run, tmp_path):
    d, spec, _ = first_run
    spec2 = write_spec(d, target="lower mean(ih) by 0.1", name="tiny2.pat")
    out = patc("run", str(spec2), "--out", str(d / "out"), "--quiet")
    assert out.returncode == 0, out.stderr
    cached = _events(d / "out", "step_cached")
    assert {"train.pre", "sample.chi", "susceptibility.chi"} <= set(cached)
    # verification runs are content-addressed: the baseline arm is shared, only patterned re-runs
    runs = sorted((d / "out" / "runs").glob("*/done.json"))
    assert len(runs) == 3, runs
    r = json.loads((d / "out" / "results.json").read_text())
    assert r["solves"]["solve.up"]["rounds"][0]["solve"]["targets"][0]["kind"] == "lower"


# `patc run` that SIGKILLs itself right after the sample step seals its first chain group: the kill
# lands at one exact point of the run (no polling for a file against a step that keeps running)
KILL_AFTER_FIRST_SAMPLE_PART = r"""
import os, signal, sys
from patternlang.runtime.rundir import StepDir
seal = StepDir.mark_part_done
def seal_then_die(self, name, *args, **kwargs):
    seal(self, name, *args, **kwargs)
    if self.path.name.startswith("sample-chi-"):
        os.kill(os.getpid(), signal.SIGKILL)
StepDir.mark_part_done = seal_then_die
from patternlang.cli import main
sys.exit(main(["run", sys.argv[1], "--out", sys.argv[2], "--quiet"]))
"""


def test_kill_during_sampling_then_resume_gives_the_same_numbers(first_run, tmp_path):
    _, spec, numbers = first_run
    out = tmp_path / "killed"
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_SAMPLE_PART, str(spec), str(out)],
                            env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    parts = list((out / "steps").glob("sample-chi-*/parts/*/done.json"))
    assert len(parts) == 1 and "-c0-" in parts[0].parent.name, parts  # the first of two chain groups
    assert not list((out / "steps").glob("sample-chi-*/done.json"))  # the step was interrupted
    res = patc("run", str(spec), "--out", str(out), "--resume", "--quiet")
    assert res.returncode == 0, res.stderr
    assert _numbers(out) == numbers


def test_infeasible_constraints_are_a_check_error_naming_the_conflict_and_keep_work(first_run,
                                                                                    tmp_path):
    d, *_ = first_run
    # linear constraints alone that cannot hold are a check-time error (PAT410); since issue 26
    # so is a trust region that cannot reach them (the first round is centred on the baseline,
    # so no chi makes it feasible): the error names exactly the conflicting pair, before any run
    spec = write_spec(d, constraints="weight(reps) >= 0.6\n    weight(noise) >= 0.1\n"
                      "    kl(base) <= 0.1", name="bad.pat")
    res = patc("run", str(spec), "--out", str(d / "out"))
    assert res.returncode == 2, res.stderr
    assert "PAT410" in res.stderr and "Traceback" not in res.stderr
    assert "KL(h'||h) <= 0.1 cannot reach the weights 'weight(reps) >= 0.6' allows" in res.stderr
    assert "weight(noise)" not in res.stderr  # not part of the conflict
    assert list((d / "out" / "steps").glob("sample-chi-*/done.json"))  # nothing lost


def test_all_chains_diverging_is_a_runtime_error_with_a_remedy(tmp_path):
    spec = write_spec(tmp_path)
    text = spec.read_text().replace("step = 1e-3", "step = 1e3")
    spec.write_text(text)
    res = patc("run", str(spec), "--out", str(tmp_path / "out"))
    assert res.returncode == 1, res.stderr
    assert "sample.chi" in res.stderr and "Traceback" not in res.stderr
    assert "step" in res.stderr.lower() and "gamma" in res.stderr.lower()
    assert list((tmp_path / "out" / "steps").glob("train-pre-*/done.json"))


def test_report_rerenders_a_run_directory(first_run):
    d, *_ = first_run
    (d / "out" / "report.md").unlink()
    res = patc("report", str(d / "out"))
    assert res.returncode == 0, res.stderr
    assert (d / "out" / "report.md").read_text().startswith("# patternlang report")


def _as_schema2(doc: dict) -> dict:
    """A schema-3 results.json (or a solve's done.json summary) written back in schema-2 names."""
    out = json.loads(json.dumps(doc))
    for sol in ([out] if out.get("kind") == "solve" else out.get("solves", {}).values()):
        for r in sol.get("rounds") or []:
            r["solution"] = r.pop("solve")
    if "solves" in out:
        out["solutions"] = out.pop("solves")
        out["schema"] = 2
    return out


def test_a_schema2_run_directory_still_reads_resumes_and_rerenders(first_run, tmp_path):
    from patternlang.results import Results
    from patternlang.runtime.rundir import read_json, seal

    d, spec, numbers = first_run
    old = tmp_path / "old"
    shutil.copytree(d / "out", old)
    for done in old.glob("steps/solve-*/done.json"):  # the solve's done.json as schema 2 wrote it
        seal(done.parent, _as_schema2(read_json(done)["summary"]))
    current = json.loads((d / "out" / "results.json").read_text())
    (old / "results.json").write_text(json.dumps(_as_schema2(current)))
    assert Results.load(old).data == Results.load(d / "out").data  # read as schema 3
    assert Results.load(old).solution() == Results.load(old).solve()
    res = patc("run", str(spec), "--out", str(old), "--quiet")  # every step reused, none recomputed
    assert res.returncode == 0, res.stderr
    assert _events(old, "step_stale") == [] and "solve.up" in _events(old, "step_cached")
    assert _numbers(old) == numbers
    assert json.loads((old / "results.json").read_text())["schema"] == 3


class _Payload:
    """Unpickling this runs code (it would create a file): the loader must refuse it."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_checkpoint_that_would_run_pickled_code_is_refused(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    torch.save({"w": _Payload(str(marker))}, tmp_path / "evil.pt")
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace(
        "model m = attn_only(layers=1, heads=2, d_model=16, context=16, vocab=16)",
        'model m = checkpoint("evil.pt", arch=attn_only(layers=1, heads=2, d_model=16, '
        "context=16, vocab=16))"))
    res = patc("run", str(spec), "--out", str(tmp_path / "out"))
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "evil.pt" in res.stderr
    assert not marker.exists()


def test_verification_arms_move_by_the_same_distance():
    import numpy as np

    from patternlang.runtime.services.mixtures import arm_weights

    h0 = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}
    h1 = {"a": 0.5, "b": 0.25, "c": 0.15, "d": 0.1}
    step = np.array([h1[k] - h0[k] for k in h0])
    for arm in ("control", "orthogonal"):
        w = arm_weights(arm, h0, h1, seed=3)
        d = np.array([w[k] - h0[k] for k in h0])
        assert abs(sum(w.values()) - 1) < 1e-12 and min(w.values()) >= 0
        assert np.linalg.norm(d) == pytest.approx(np.linalg.norm(step), rel=1e-9)
    d = np.array([arm_weights("orthogonal", h0, h1, seed=3)[k] - h0[k] for k in h0])
    assert abs(d @ step) < 1e-12
    opposite = arm_weights("opposite", h0, h1, seed=0)
    assert opposite["a"] == pytest.approx(0.3)


def test_random_control_arms_keep_the_solves_equality_constraints():
    """With weight(a) == 0.4 and b + c == 0.5 held by the solve, the control and orthogonal arms
    move only inside that subspace, by the same distance as the patterned step (unless the final
    clip to the simplex had to act)."""
    import numpy as np

    from patternlang.runtime.services.mixtures import arm_weights, random_direction

    h0 = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.05, "e": 0.05}
    h1 = {"a": 0.4, "b": 0.33, "c": 0.17, "d": 0.04, "e": 0.06}
    held = [{"a": 1.0}, {"b": 1.0, "c": 1.0}]
    rows = [np.array([r.get(k, 0.0) for k in h0]) for r in held]
    step = np.array([h1[k] - h0[k] for k in h0])
    unclipped = 0
    for seed in range(10):
        d = random_direction(5, 0.1, seed, keep_zero=[*rows, step])
        assert np.linalg.norm(d) == pytest.approx(0.1) and abs(d.sum()) < 1e-12
        assert all(abs(r @ d) < 1e-12 for r in rows) and abs(d @ step) < 1e-12
        for arm in ("control", "orthogonal"):
            w = arm_weights(arm, h0, h1, seed=seed, held=held)
            dw = np.array([w[k] - h0[k] for k in h0])
            if min(w.values()) > 0:  # the clip did not act
                unclipped += 1
                assert w["a"] == pytest.approx(0.4, abs=1e-12)
                assert w["b"] + w["c"] == pytest.approx(0.5, abs=1e-12)
                assert np.linalg.norm(dw) == pytest.approx(np.linalg.norm(step), rel=1e-9)
                assert arm == "control" or abs(dw @ step) < 1e-12
    assert unclipped >= 5
    # with every direction pinned, there is nothing left to move
    pinned = [{k: 1.0} for k in ("a", "b", "c", "d")]
    assert arm_weights("orthogonal", h0, h1, seed=0, held=pinned) == pytest.approx(h0)


def test_results_api_attributes_and_tables(first_run):
    from patternlang.results import Results

    d, _, numbers = first_run
    res = Results(json.loads((d / "first_results.json").read_text()), d / "out")
    assert res.weights == numbers["weights"]["solve.up"]
    assert res.chi["components"] == ["reps", "noise"] and res.chi is res.susceptibility("susceptibility.chi")
    assert "solve.up:" in res.headline and "->" in res.headline
    with pytest.raises(KeyError, match="there are: solve.up"):
        res.solution("solve.nope")
    pytest.importorskip("pandas", reason="Results.*_frame() need the pandas extra")
    chi = res.chi_frame()
    assert list(chi.columns) == ["observable", "component", "chi", "chi_se", "z"] and len(chi) == 3 * 2
    row = chi[(chi.observable == "loss(reps)") & (chi.component == "noise")].iloc[0]
    assert row.chi == res.chi["chi"][2][1] and row.chi_se == res.chi["chi_se"][2][1]
    w = res.weights_frame().set_index("component")
    assert w.loc["reps", "new"] == res.weights["reps"]
    assert w.loc["reps", "delta"] == pytest.approx(res.weights["reps"] - 0.3)
    curves = res.curves_frame()
    assert set(curves.arm) == {"baseline", "patterned"} and set(curves.step) == {0, 10, 20}
    assert set(res.tracked_frame().observable) == {"mean(ih)", "loss(reps)"}
    assert set(res.measures_frame().observable) == {"ih[l0h0]", "ih[l0h1]", "mean(ih)"}


def test_results_load_names_the_missing_file(tmp_path):
    from patternlang.results import Results

    with pytest.raises(FileNotFoundError, match="patc report"):
        Results.load(tmp_path)

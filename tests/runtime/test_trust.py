"""Weights you can trust (issue 22), end to end through `patc run` at CI size: the coupled
estimator from a spec, the split-half solve, the posterior check, the verdict on the console, in
report.md and results.json, the fixed-column trap refused by `require resolved`, and the probe
seed that follows the sampler's seed, not the step's name."""

from __future__ import annotations

import json
from pathlib import Path

from .test_run import patc
from .tiny import TINY, write_spec

COUPLED = "  observe = [ih, loss(reps)]\n  estimator = coupled(delta = 0.05)\n"


def _coupled_spec(tmp: Path, target: str = "raise mean(ih) by 0.1", name: str = "c.pat") -> Path:
    spec = write_spec(tmp, target=target, name=name)
    spec.write_text(spec.read_text().replace("  observe = [ih, loss(reps)]\n", COUPLED, 1))
    return spec


def test_the_coupled_estimator_runs_from_a_spec_and_every_run_prints_a_verdict(tmp_path):
    out = tmp_path / "out"
    res = patc("run", str(_coupled_spec(tmp_path)), "--out", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "results.json").read_text())
    chi = doc["susceptibilities"]["susceptibility.chi"]
    assert chi["estimator"] == "coupled" and chi["coupled"]["components"] == ["reps", "noise"]
    assert chi["coupled"]["chains"] == 4 and len(chi["halves"]) == 2
    # the coupled columns are the estimate; the covariance estimate stays beside it
    assert chi["chi"] != chi["coupled"]["chi_covariance"]
    sol = doc["solves"]["solve.up"]
    assert sol["reproducibility"]["cosine"] is not None
    (check,) = sol["posterior_check"]
    assert check["target"] == "raise mean(ih)" and check["measured_se"] > 0
    verdict = doc["verdict"]
    assert verdict["trust"] in ("trust", "do not trust")
    (t,) = verdict["targets"]
    assert any(e.startswith("resolved on the movable step") for e in t["evidence"])
    assert any(e.startswith("reproducible") for e in t["evidence"])
    assert any(e.startswith("posterior check: measured") for e in t["evidence"])
    assert "VERDICT:" in res.stdout and "## Verdict" in (out / "report.md").read_text()
    # the parts are re-used by --resume: the same numbers without sampling again
    again = patc("run", str(_coupled_spec(tmp_path)), "--out", str(out), "--resume")
    assert again.returncode == 0 and json.loads((out / "results.json").read_text())["verdict"] == verdict


def test_the_covariance_estimator_gets_a_verdict_and_console_warnings(tmp_path):
    out = tmp_path / "out"
    res = patc("run", str(write_spec(tmp_path)), "--out", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["susceptibilities"]["susceptibility.chi"]["estimator"] == "covariance"
    assert doc["solves"]["solve.up"]["reproducibility"] is not None  # 4 chains: two halves
    evidence = doc["verdict"]["targets"][0]["evidence"]
    assert evidence[2] == "posterior check: not run (coupled estimator only)"
    assert evidence[-1].startswith("estimator: covariance") and "probe-set variance" in evidence[-1]
    assert "VERDICT:" in res.stdout
    # warnings are printed as the step finishes, before the report step runs
    warned = [i for i, line in enumerate(res.stderr.splitlines() + res.stdout.splitlines())
              if "solve.up: warning:" in line]
    if doc["solves"]["solve.up"]["rounds"][0]["solve"]["warnings"]:
        assert warned


THREE = TINY.replace("data noise = uniform_tokens(vocab=16, length=16)",
                     "data noise = uniform_tokens(vocab=16, length=16)\n"
                     "data mark = markov_text(vocab=16, length=16, order=1)").replace(
    "mixture base = {reps: 0.3, noise: 0.7}", "mixture base = {reps: 0.3, noise: 0.4, mark: 0.3}")


def test_a_target_resolved_only_in_a_fixed_column_is_refused_and_distrusted(tmp_path):
    """loss(reps) responds strongly to the reps column; with reps fixed, the solver can only trade
    noise against mark, along which the row is noise: `require resolved` refuses it."""
    spec = tmp_path / "fixed.pat"
    spec.write_text(THREE.replace("TARGET", "lower loss(reps) by 0.01\n  require resolved")
                    .replace("CONSTRAINTS", "kl(base) <= 0.1\n    fixed(reps)"))
    res = patc("run", str(spec), "--out", str(tmp_path / "out"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "movable-step |z|" in res.stderr and "require resolved" in res.stderr
    solution = json.loads(next((tmp_path / "out" / "steps").glob("solve-*/solution.json")).read_text())
    (r,) = solution["resolved"]
    assert r["max_abs_z"] >= 3 and r["movable_z"] < 3 and r["dof"] == 1 and not r["resolved"]
    assert abs(r["z"]["reps"]) >= 3  # resolved in the column that cannot move
    # without `require resolved` the run ends, and the verdict says not to trust it, and why
    spec.write_text(spec.read_text().replace("\n  require resolved", ""))
    res = patc("run", str(spec), "--out", str(tmp_path / "out2"))
    assert res.returncode == 0, res.stderr
    verdict = json.loads((tmp_path / "out2" / "results.json").read_text())["verdict"]
    assert verdict["trust"] == "do not trust" and verdict["targets"][0]["failed"] == 1


def _chi(tmp: Path, text: str, name: str) -> list:
    spec = tmp / f"{name}.pat"
    spec.write_text(text)
    out = tmp / name
    res = patc("run", str(spec), "--out", str(out))
    assert res.returncode == 0, res.stderr
    return next(iter(json.loads((out / "results.json").read_text())["susceptibilities"].values()))["chi"]


def test_the_probe_seed_follows_the_sampler_seed_not_the_step_name(tmp_path):
    base = TINY.replace("TARGET", "raise mean(ih) by 0.1").replace("CONSTRAINTS", "kl(base) <= 0.1")
    renamed = base.replace("susceptibility chi {", "susceptibility renamed {").replace(
        "from = chi", "from = renamed")
    reseeded = base.replace("batch = 16 }", "batch = 16  seed = 7 }")
    first = _chi(tmp_path, base, "a")
    assert _chi(tmp_path, renamed, "b") == first
    assert _chi(tmp_path, reseeded, "c") != first


def test_under_draws_auto_the_coupled_estimator_adds_chains_until_the_row_is_resolved(tmp_path):
    spec = _coupled_spec(tmp_path, target="lower loss(reps) by 0.01")
    spec.write_text(spec.read_text().replace("draws = 12", "draws = auto(z=2, max=36, chunk=12)"))
    out = tmp_path / "out"
    res = patc("run", str(spec), "--out", str(out))
    assert res.returncode == 0, res.stderr
    coupled = json.loads((out / "results.json").read_text())["susceptibilities"]["susceptibility.chi"]["coupled"]
    auto = coupled["auto"]
    rounds = auto["rounds"]
    assert auto["max_chains"] == 12 and [r["chains"] for r in rounds] == list(range(4, 4 * len(rounds) + 1, 4))
    last = rounds[-1]["best_abs_z"]["lower loss(reps)"]
    assert coupled["chains"] == rounds[-1]["chains"]
    assert last >= 2 or rounds[-1]["chains"] == 12  # resolved, or the budget is spent
    assert all(r["best_abs_z"]["lower loss(reps)"] < 2 for r in rounds[:-1])
    assert "coupled, draws = auto" in res.stdout + res.stderr


def test_the_verdict_says_when_no_random_arms_rank_the_step():
    from patternlang.runtime.run_verdict import _validation_line
    from patternlang.runtime.validation_types import ValidationResult

    def val(pct, lds):
        return ValidationResult.model_construct(random_percentile=pct, lds_spearman=lds)

    assert _validation_line(val(None, 1.0)) == (
        "validation: no random arms (add random(12) to rank the step against chance), LDS 1.00")
    assert _validation_line(val(11 / 12, None)) == "validation: beats 92% of random arms"

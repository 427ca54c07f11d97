"""What the checker computes: module resolution, lowering of targets and constraints, hashes."""

from __future__ import annotations

import pytest

from patternlang.compiler import compile_file, compile_source
from patternlang.errors import PatSpecError
from .util import HERE

QUICK = (HERE / "fixtures" / "quickstart_v0.pat").read_text(encoding="utf-8")


def codes(text: str, filename: str = "<t>.pat") -> list[str]:
    with pytest.raises(PatSpecError) as info:
        compile_source(text, filename)
    return [d.code for d in info.value.diagnostics]


def test_user_modules_resolve_from_spec_dir_path_and_env(tmp_path, monkeypatch):
    (tmp_path / "spec").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "env" / "pkg").mkdir(parents=True)
    (tmp_path / "spec" / "local.pat").write_text("data a = uniform_tokens(vocab=8, length=4)\n")
    (tmp_path / "lib" / "extra.pat").write_text("observable l = llc()\n")
    (tmp_path / "env" / "pkg" / "deep.pat").write_text("model m = attn_only(layers=1)\n")
    spec = tmp_path / "spec" / "main.pat"
    spec.write_text("use local\nuse extra\nuse pkg.deep\nmixture mix = {a: 1}\n"
                    "train t { model = m  data = mix  steps = 5  track = [l] }\n")
    with pytest.raises(PatSpecError) as info:
        compile_file(spec)
    diags = info.value.diagnostics
    assert {d.code for d in diags} == {"PAT205", "PAT201"}
    assert all("was not found" in d.hint for d in diags if d.code == "PAT201")
    monkeypatch.setenv("PATTERNLANG_PATH", str(tmp_path / "env"))
    plan = compile_file(spec, search_path=[str(tmp_path / "lib")])
    train = plan.step("train.t")
    assert train.model.call.args["layers"] == 1 and train.track[0].name == "l"


def test_import_cycle_and_steps_in_modules(tmp_path):
    (tmp_path / "a.pat").write_text("use b\ndata x = uniform_tokens()\n")
    (tmp_path / "b.pat").write_text("use a\ntrain t { steps = 1 }\n")
    spec = tmp_path / "main.pat"
    spec.write_text("use a\n")
    with pytest.raises(PatSpecError) as info:
        compile_file(spec)
    assert {d.code for d in info.value.diagnostics} == {"PAT504", "PAT505"}


def test_targets_lower_to_refs_and_constraints_to_linear_forms():
    plan = compile_source(QUICK, "q.pat")
    solve = plan.step("solve.accelerate")
    raise_, hold = solve.targets
    assert (raise_.kind, raise_.amount, raise_.expr.op) == ("raise", 0.1, "mean")
    assert raise_.expr.operands[0].model_dump(exclude_defaults=True) == \
        {"op": "ref", "source": "susceptibility.chi", "name": "ih"}
    assert hold.kind == "hold" and hold.expr.name == "loss(markov)"
    lin = [c for c in solve.constraints if c.kind == "linear"]
    assert lin[0].coeffs == {"uniform": 1.0} and lin[0].op == ">=" and lin[0].rhs == 0.05
    assert lin[1].coeffs == {"repeats": 1.0, "markov": 1.0} and lin[1].rhs == pytest.approx(0.9)
    assert [c.kind for c in solve.constraints][-1] == "kl"
    assert plan.step("train.pretrain").mixture.weights == pytest.approx(
        {"repeats": 0.1, "markov": 0.6, "uniform": 0.3})


def test_changing_a_target_changes_only_downstream_hashes():
    a = compile_source(QUICK, "q.pat").hashes()
    b = compile_source(QUICK.replace("by 0.1 weight 1", "by 0.2 weight 1"), "q.pat").hashes()
    same = {k for k in a if a[k] == b[k]}
    assert same == {"train.pretrain", "sample.chi", "susceptibility.chi"}
    # Source positions do not change the work.
    c = compile_source("\n\n" + QUICK, "q.pat").hashes()
    assert c == a


def test_linear_constraint_normalisation_and_chains():
    text = QUICK.replace("weight(uniform) >= 0.05",
                         "0.05 <= weight(uniform) <= 0.5\n    2 * weight(repeats) - weight(markov) == 0")
    solve = compile_source(text, "q.pat").step("solve.accelerate")
    lin = [c for c in solve.constraints if c.kind == "linear"]
    assert (lin[0].op, lin[0].rhs, lin[1].op, lin[1].rhs) == ("<=", -0.05, "<=", 0.5)
    assert lin[2].coeffs == {"repeats": 2.0, "markov": -1.0} and lin[2].op == "=="


@pytest.mark.parametrize("snippet,code", [
    ("weight(repeats) * 2 <= 0.5", None),
    ("-kl(base) <= 0.1", "PAT401"),
    ("l2(base) == 0.1", "PAT401"),
    ("weight(nothing) <= 0.1", "PAT201"),
    ("kl(repeats) <= 0.1", "PAT301"),
    ("weight(repeats) <= -0.1", "PAT302"),
])
def test_constraint_checks(snippet, code):
    text = QUICK.replace("kl(base) <= 0.2", snippet)
    if code is None:
        compile_source(text, "q.pat")
    else:
        assert code in codes(text)


def test_all_errors_at_once_sorted():
    text = QUICK.replace("steps = 300\n  batch", "steps = 0\n  batch").replace("chains = 4", "chains = 0") \
        .replace("gamma = 300", "gamma = -1")
    got = codes(text)
    assert got == ["PAT302", "PAT302", "PAT302"]


def test_sampler_preconditioner_reaches_the_engine_config():
    from patternlang.runtime.services.sampling import sgld_config

    plan = compile_source(QUICK.replace("batch = 32 }", "batch = 32  preconditioner = rmsprop }"), "q.pat")
    step = next(s for s in plan.steps if getattr(s, "sampler", None) is not None)
    assert step.sampler.preconditioner == "rmsprop"
    assert sgld_config(step.sampler, seed=0).preconditioner == "rmsprop"
    plain = compile_source(QUICK, "q.pat")
    assert next(s for s in plain.steps if getattr(s, "sampler", None) is not None).sampler.preconditioner == "none"


def test_require_resolved_lowers_to_the_solve_step():
    plan = compile_source(QUICK.replace("raise mean(ih) by 0.1 weight 1",
                                        "raise mean(ih) by 0.1 weight 1\n  require resolved"), "q.pat")
    assert plan.step("solve.accelerate").require_resolved
    assert not compile_source(QUICK, "q.pat").step("solve.accelerate").require_resolved
    assert codes(QUICK.replace("sampler local {", "sampler local { require resolved ")) == ["PAT505"]


def test_restricted_sampling_numerics_change_only_restricted_sample_hashes(monkeypatch):
    from patternlang.plan import ir

    plain = compile_source(QUICK, "q.pat")
    text = QUICK.replace("batch = 32 }", 'batch = 32  restrict = ["blocks.1.*"] }', 1)
    restricted = compile_source(text, "q.pat")
    assert restricted.step("sample.chi").sampler.restrict
    before = (plain.hashes(), restricted.hashes())
    monkeypatch.setattr(ir, "RESTRICTED_NUMERICS_VERSION", ir.RESTRICTED_NUMERICS_VERSION + 1)
    assert plain.hashes() == before[0]  # unrestricted plans keep every hash
    after = restricted.hashes()
    assert after["train.pretrain"] == before[1]["train.pretrain"]
    assert after["sample.chi"] != before[1]["sample.chi"]

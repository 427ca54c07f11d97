"""`patc` commands and exit codes (0 ok, 2 spec/usage error, 1 runtime, 70 internal)."""

from __future__ import annotations

import json
import re

import pytest

from patternlang import cli
from patternlang.errors import PatRuntimeError
from tests.check.util import ROOT


@pytest.fixture(autouse=True)
def _in_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(capsys, *args):
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_all_shipped_specs(capsys):
    specs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.pat"))
    code, out, err = run(capsys, "check", *specs)
    assert code == 0, err
    assert out.count(": ok") == len(specs)


def test_compile_json_is_valid(capsys):
    code, out, _ = run(capsys, "compile", "specs/quickstart.pat", "--emit", "json")
    assert code == 0
    plan = json.loads(out)
    assert [s["kind"] for s in plan["steps"]] == ["train", "sample", "susceptibility", "solve", "verify",
                                                  "report"]


def test_compile_tree_and_output_file(capsys, tmp_path):
    code, out, _ = run(capsys, "compile", "specs/quickstart.pat")
    assert code == 0 and "fwd+bwd" in out and "sample.chi" in out
    assert re.search(r"estimated compute time on this machine: ≈ \d+ (s|min|h) at the measured rates \(tiny \d+ fwd\+bwd", out)
    # the coupled estimator's paired runs are costed (2 of its 3 columns sampled, 8 chains x 20 draws,
    # and the solve's posterior check), and targets, constraints and resolved settings shown
    assert "coupled estimator: delta 0.05, every movable component, 8 chains, 20 draws" in out
    assert re.search(r"cost \(paired runs\): 215\.0k fwd\+bwd, 184\.3k fwd sequences; .*≈", out)
    assert "target: raise mean(ih) by 0.1 (weight 1)" in out and "constraint: kl(base) <= 0.05" in out
    assert "nbeta 100, burnin 100, thin 2, batch 32" in out and "adamw(lr=0.01, weight_decay=0.05)" in out
    code, out, _ = run(capsys, "compile", "specs/quickstart.pat", "--no-timing")
    assert code == 0 and "estimated time" not in out and "≈" not in out
    target = tmp_path / "plan.json"
    code, _, _ = run(capsys, "compile", "specs/quickstart.pat", "--emit", "json", "-o", str(target))
    assert code == 0 and json.loads(target.read_text())["version"] == 1
    code, out, _ = run(capsys, "compile", "specs/quickstart.pat", "--emit", "ast")
    assert code == 0 and json.loads(out)["node"] == "Module"


def test_misspelled_primitive(capsys, tmp_path):
    bad = tmp_path / "bad.pat"
    bad.write_text((ROOT / "specs/quickstart.pat").read_text().replace("induction_score", "induction_scroe"))
    code, _, err = run(capsys, "check", str(bad))
    assert code == 2
    assert "did you mean 'induction_score'" in err
    assert "Traceback" not in err and "\x1b[" not in err  # no colours when not a TTY


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "check", "no/such/file.pat")[0] == 2
    assert run(capsys, "compile", "specs/quickstart.pat", "--emit", "nonsense")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2


def test_runtime_and_internal_errors(capsys, monkeypatch):
    import patternlang.compiler as compiler

    def boom(*a, **k):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(compiler, "check_file", boom)
    code, _, err = run(capsys, "check", "specs/quickstart.pat")
    assert code == 70 and "internal error" in err and "Traceback" not in err
    code, _, err = run(capsys, "--debug", "check", "specs/quickstart.pat")
    assert code == 70 and "Traceback" in err

    def fails(*a, **k):
        raise PatRuntimeError("train.x", "loss is NaN", "lower the learning rate")

    monkeypatch.setattr(compiler, "check_file", fails)
    code, _, err = run(capsys, "check", "specs/quickstart.pat")
    assert code == 1 and "remedy" in err


def test_stdlib_listing(capsys):
    code, out, _ = run(capsys, "stdlib")
    assert code == 0 and "lm" in out and "parens" in out
    code, out, _ = run(capsys, "stdlib", "lm")
    assert code == 0 and "observable induction(layer=1, period=8)" in out
    assert run(capsys, "stdlib", "nope")[0] == 2


def test_stdlib_lists_every_primitive_and_each_observables_probe_and_chance(capsys):
    from patternlang import registry

    code, out, _ = run(capsys, "stdlib")
    assert code == 0
    for p in registry.all_primitives():
        assert f"  {p.kind} {p.name}(" in out
        if p.kind == "observable":
            assert p.meta.get("probe") and p.meta.get("chance"), p.name
    assert "chance: ≈ ln 2 / period" in out
    code, out, _ = run(capsys, "stdlib", "nested_agreement")
    assert code == 0 and "chance level: 0.5" in out and "min_len: int (default 4, >= 2)" in out


def test_every_command_is_registered():
    assert {"check", "compile", "stdlib", "run", "report", "fmt", "lsp"} <= set(cli.main_group.commands)

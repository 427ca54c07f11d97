"""`patc` commands and exit codes (0 ok, 2 spec/usage error, 1 runtime, 70 internal)."""

from __future__ import annotations

import json

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


def test_every_command_is_registered():
    assert {"check", "compile", "stdlib", "run", "report"} <= set(cli.main_group.commands)

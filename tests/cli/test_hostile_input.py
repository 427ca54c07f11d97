"""Hostile but realistic spec files at `patc check`: clear exit-2 messages naming the file, never
exit 70 (issue 14, items 7 and 10). Bad specs that render as ordinary diagnostics are goldens in
tests/check/bad; these cases need bytes or directories a golden text file cannot hold."""

from __future__ import annotations

import pytest

from patternlang import cli
from tests.check.util import ROOT

TINY = (ROOT / "tests" / "distributed" / "tiny.pat").read_text()


def run(capsys, *args):
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_utf8_bom_is_accepted(capsys, tmp_path):
    spec = tmp_path / "bom.pat"
    spec.write_bytes(b"\xef\xbb\xbf" + TINY.encode())
    code, out, err = run(capsys, "check", str(spec))
    assert code == 0, err


def test_non_utf8_spec_names_the_file_line_and_column(capsys, tmp_path):
    spec = tmp_path / "latin1.pat"
    spec.write_bytes(TINY.encode().replace(b"use stdlib.core", b"use stdlib.core\n# caf\xe9"))
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2
    assert f"{spec}:3:6: error[PAT102]" in err and "not UTF-8" in err and "0xe9" in err


def test_non_utf8_imported_module_is_a_diagnostic_not_a_crash(capsys, tmp_path):
    (tmp_path / "helpers.pat").write_bytes(b"# caf\xe9\n")
    spec = tmp_path / "main.pat"
    spec.write_text("use helpers\n" + TINY)
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2 and "helpers.pat" in err and "PAT102" in err


def test_unreadable_imported_module_is_a_diagnostic(capsys, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    mod = tmp_path / "helpers.pat"
    mod.write_text("# fine\n")
    mod.chmod(0)
    spec = tmp_path / "main.pat"
    spec.write_text("use helpers\n" + TINY)
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2 and "cannot read" in err and "helpers.pat" in err


def test_a_directory_given_as_the_spec_says_so(capsys, tmp_path):
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_empty_spec_is_an_error_at_run_too(capsys, tmp_path):
    spec = tmp_path / "empty.pat"
    spec.write_text("\n# nothing here\n")
    code, _, err = run(capsys, "run", str(spec), "--out", str(tmp_path / "out"))
    assert code == 2 and "PAT507" in err and "is empty" in err
    assert not (tmp_path / "out").exists()


def test_a_600_term_sum_checks(capsys, tmp_path):
    spec = tmp_path / "sum.pat"
    spec.write_text(TINY.replace("by 0.05", "by " + " + ".join(["0.0001"] * 600)))
    code, _, err = run(capsys, "check", str(spec))
    assert code == 0, err


def test_a_plan_far_beyond_the_machine_is_a_warning(capsys, tmp_path):
    spec = tmp_path / "costly.pat"
    spec.write_text(TINY.replace("steps = 20\n  seeds = 2", "steps = 1000000000000\n  seeds = 2"))
    code, out, err = run(capsys, "check", str(spec))
    assert code == 0 and "ok" in out
    assert "warning[PAT330]" in err and "train.pretrain would take at least" in err and "days" in err
    code, _, err = run(capsys, "check", str(ROOT / "tests" / "distributed" / "tiny.pat"))
    assert code == 0 and "PAT330" not in err

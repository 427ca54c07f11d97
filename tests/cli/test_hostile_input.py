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


# --- issue 27: sizes beyond the machine, allocator errors, unreadable token files ---------------

FAST = (ROOT / "tests" / "cli" / "fast.pat").read_text()
SIZES = {  # each would pass `patc check` with a time warning and then kill the run (exit 70)
    "d_model": ("d_model=16", "d_model=1000000", "PAT331"),
    "vocab": ("vocab=16)", "vocab=1000000000)", "PAT331"),
    "context": ("context=8", "context=100000000", "PAT331"),
    "batch": ("batch = 8 }", "batch = 1000000000 }", "PAT331"),
    "probe": ("sampler = local\n", "sampler = local\n  probe = 1000000000\n", "PAT331"),
    "heads": ("heads=2", "heads=100000", "PAT302"),
    "layers": ("layers=1", "layers=100000", "PAT302"),
}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_sizes_beyond_the_machine_are_refused_at_check(capsys, tmp_path, size):
    old, new, code_ = SIZES[size]
    spec = tmp_path / "big.pat"
    spec.write_text(FAST.replace(old, new, 1))
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2 and f"error[{code_}]" in err and str(spec) in err, err
    if code_ == "PAT331":
        assert "GB of memory" in err and "more than this machine's" in err and "lower" in err


def _allocator_fails(monkeypatch, module, name):
    """Make ``module.name`` fail as torch's allocator does, from a frame that is patternlang's own
    (so the failure cannot pass for an error in the user's code)."""
    import patternlang

    ns: dict = {}
    exec(compile("def fail(*args, **kwargs):\n    raise RuntimeError('[enforce fail at "
                 "alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried "
                 "to allocate 4000000000000 bytes.')\n", patternlang.__file__, "exec"), ns)
    monkeypatch.setattr(module, name, ns["fail"])


def test_an_allocator_error_is_exit_1_naming_the_data_file(capsys, tmp_path, monkeypatch):
    import numpy as np

    from patternlang.runtime.steps.train import runner as train

    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    np.save(tmp_path / "ids.npy", np.arange(400) % 16)
    spec = tmp_path / "oom.pat"
    spec.write_text(FAST.replace("data uniform = uniform_tokens(vocab=16, length=8)",
                                 'data uniform = token_file("ids.npy", length=8)'))
    _allocator_fails(monkeypatch, train, "train_one")
    code, _, err = run(capsys, "run", str(spec), "--out", str(tmp_path / "out"), "--device", "cpu",
                       "--quiet")
    assert code == 1, err
    assert "train.pretrain" in err and "out of memory" in err and "ids.npy" in err
    assert "internal error" not in err and "--resume" in err


def test_a_token_file_that_is_not_safetensors_is_exit_1_naming_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    (tmp_path / "ids.safetensors").write_bytes(b"this is not a safetensors file")
    spec = tmp_path / "bad.pat"
    spec.write_text(FAST.replace("data uniform = uniform_tokens(vocab=16, length=8)",
                                 'data uniform = token_file("ids.safetensors", length=8)'))
    code, _, err = run(capsys, "run", str(spec), "--out", str(tmp_path / "out"), "--device", "cpu",
                       "--quiet")
    assert code in (1, 2) and "ids.safetensors" in err and "internal error" not in err, err


def test_devices_pipes_and_huge_files_are_refused_naming_them(capsys, tmp_path):
    """Item 7: `patc check /dev/zero` read forever, a FIFO hung, a 20 MB literal was read whole."""
    import os

    code, _, err = run(capsys, "check", "/dev/zero")
    assert code == 2 and "/dev/zero is not a regular file" in err, err
    fifo = tmp_path / "pipe.pat"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "check", str(fifo))  # reading it would wait for a writer
    assert code == 2 and f"{fifo} is not a regular file" in err, err
    big = tmp_path / "big.pat"
    big.write_text(TINY.replace("steps = 20", "steps = 2" + "0" * 20_000_000))
    code, _, err = run(capsys, "check", str(big))
    assert code == 2 and str(big) in err and "at most" in err, err
    code, _, err = run(capsys, "fmt", str(big))
    assert code == 2 and str(big) in err, err


def test_a_path_too_long_for_the_file_system_is_a_diagnostic(capsys, tmp_path):
    spec = tmp_path / "long.pat"
    spec.write_text(TINY.replace("data uniform = uniform_tokens(vocab=16, length=8)",
                                 f'data uniform = token_file("{"a" * 5000}.npy", length=8)'))
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2 and "PAT309" in err and "too long" in err.lower(), err
    code, _, err = run(capsys, "check", str(tmp_path / ("b" * 5000 + ".pat")))
    assert code == 2 and "internal error" not in err, err
    spec.write_text("use " + "m" * 5000 + "\n" + TINY)
    code, _, err = run(capsys, "check", str(spec))
    assert code == 2 and "internal error" not in err, err


def test_fmt_reads_files_as_check_does(capsys, tmp_path):
    """Item 7: `patc fmt` crashed on a non-UTF-8 file (check: PAT102) and treated a byte-order
    mark differently from check; now the same reader: PAT102, and a BOM kept."""
    bad = tmp_path / "latin1.pat"
    bad.write_bytes(TINY.encode().replace(b"use stdlib.core", b"use stdlib.core\n# caf\xe9"))
    code, _, err = run(capsys, "fmt", str(bad))
    assert code == 2 and f"{bad}:3:6: error[PAT102]" in err, err
    bom = tmp_path / "bom.pat"
    bom.write_bytes(b"\xef\xbb\xbf" + TINY.replace("steps = 20", "steps   =   20").encode())
    assert run(capsys, "check", str(bom))[0] == 0
    code, _, err = run(capsys, "fmt", str(bom))
    assert code == 0, err
    data = bom.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"steps = 20" in data
    assert run(capsys, "fmt", "--check", str(bom))[0] == 0
    assert run(capsys, "check", str(bom))[0] == 0

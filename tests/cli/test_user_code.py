"""User code and user data (issue 14, items 7 and 9): errors raised in a factory's code are exit 1
naming the function (``--debug`` shows the traceback, after the subcommand too); editing a factory's
module or a data file's contents changes the step hashes, so nothing stale is reported as cached."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from patternlang import cli

FAST = Path(__file__).with_name("fast.pat").read_text()
STDLIB_MODEL = "model tiny = attn_only(layers=1, heads=2, d_model=16, context=8, vocab=16)"

FACTORY = '''
import torch
from patternlang.models.attn_only import AttnOnlyTransformer


class Picky(AttnOnlyTransformer):
    def forward(self, tokens, return_attention=False):
        if tokens.shape[0] > LIMIT:
            raise RuntimeError("this model only takes small batches")
        return super().forward(tokens, return_attention)


def build(limit=1000):
    return Picky(vocab=16, d_model=16, n_layers=1, n_heads=2, d_head=8, context=8)
'''


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    monkeypatch.syspath_prepend(str(tmp_path))


def patc(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().err


def _factory_spec(tmp_path: Path, module: str, limit: int) -> Path:
    (tmp_path / f"{module}.py").write_text(FACTORY.replace("LIMIT", str(limit)))
    spec = tmp_path / "uc.pat"
    spec.write_text(FAST.replace(STDLIB_MODEL, f'model tiny = factory("{module}:build")'))
    return spec


def test_an_exception_in_user_code_is_exit_1_naming_the_function(capsys, tmp_path):
    spec = _factory_spec(tmp_path, "picky_models_a", limit=2)
    code, err = patc(capsys, "run", str(spec), "--out", str(tmp_path / "out"), "--device", "cpu")
    assert code == 1, err
    assert "your code raised RuntimeError: this model only takes small batches" in err
    assert "forward" in err and "picky_models_a.py" in err and "internal error" not in err
    assert "Traceback" not in err
    code, err = patc(capsys, "run", str(spec), "--out", str(tmp_path / "out"), "--device", "cpu",
                     "--debug")  # after the subcommand
    assert code == 1 and "Traceback" in err and "picky_models_a.py" in err


def _steps(out: Path) -> dict:
    return {json.loads(x)["step"]: json.loads(x)["event"] for x in
            (out / "log.jsonl").read_text().splitlines()[-40:] if json.loads(x).get("step")}


def test_editing_a_factory_module_reruns_its_steps(capsys, tmp_path):
    spec = _factory_spec(tmp_path, "picky_models_b", limit=10**6)
    out = tmp_path / "out"
    assert patc(capsys, "run", str(spec), "--out", str(out), "--quiet", "--device", "cpu")[0] == 0
    assert patc(capsys, "run", str(spec), "--out", str(out), "--quiet", "--device", "cpu")[0] == 0
    assert _steps(out)["train.pretrain"] == "step_cached"
    (tmp_path / "picky_models_b.py").write_text(FACTORY.replace("LIMIT", str(10**6 + 1)))
    assert patc(capsys, "run", str(spec), "--out", str(out), "--quiet", "--device", "cpu")[0] == 0
    assert _steps(out)["train.pretrain"] == "step_end"


def test_editing_a_text_file_reruns_its_steps(capsys, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    spec = tmp_path / "text.pat"
    spec.write_text(FAST.replace("data uniform = uniform_tokens(vocab=16, length=8)",
                                 'data uniform = text_file("corpus.txt", vocab=16, length=8)'))
    out = tmp_path / "out"
    for _ in range(2):
        code, err = patc(capsys, "run", str(spec), "--out", str(out), "--quiet", "--device", "cpu")
        assert code == 0, err
    assert _steps(out)["train.pretrain"] == "step_cached"
    corpus.write_text("a dog ran in the fog. " * 200)
    assert patc(capsys, "run", str(spec), "--out", str(out), "--quiet", "--device", "cpu")[0] == 0
    assert _steps(out)["train.pretrain"] == "step_end"


def test_a_text_file_given_as_a_checkpoint_is_exit_1(capsys, tmp_path):
    fake = tmp_path / "passwd"
    fake.write_text("root:x:0:0:root:/root:/bin/bash\n")
    spec = tmp_path / "ck.pat"
    spec.write_text(FAST.replace(
        STDLIB_MODEL, STDLIB_MODEL.replace("model tiny = attn_only(", "model arch0 = attn_only(")
        + f'\nmodel tiny = checkpoint("{fake}", arch=arch0)'))
    code, err = patc(capsys, "run", str(spec), "--out", str(tmp_path / "out"), "--device", "cpu")
    assert code in (1, 2), err
    assert "internal error" not in err and "Traceback" not in err and "passwd" in err


SHADOWS = ["safetensors", "numpy", "torch", "click", "pydantic", "cvxpy"]


def test_modules_beside_a_spec_never_shadow_installed_packages(tmp_path):
    """Issue 27 item 1: a `numpy.py` (etc.) beside a spec must not run, in the main process or in a
    verification worker; the factory the spec names is still found there, after installed
    packages; `patc compile` lists the file it will import."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    spec = _factory_spec(tmp_path, "shadow_factory", limit=10**6)
    hits = tmp_path / "hits"
    for name in SHADOWS:
        (tmp_path / f"{name}.py").write_text(
            f"open({str(hits)!r}, 'a').write('{name}\\n')\nraise ImportError('shadow')\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATTERNLANG_WORKERS": "2",
           "PYTHONPATH": str(root)}
    env.pop("PATTERNLANG_FACTORY_DIRS", None)

    def patc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "patternlang", *args], capture_output=True,
                              text=True, env=env, cwd=root, timeout=600)

    done = patc("compile", str(spec), "--no-timing")
    assert done.returncode == 0, done.stderr
    assert f"shadow_factory:build: {tmp_path / 'shadow_factory.py'}" in done.stdout
    done = patc("run", str(spec), "--out", str(tmp_path / "out"), "--device", "cpu", "--quiet")
    assert done.returncode == 0, done.stderr
    assert not hits.exists(), hits.read_text()

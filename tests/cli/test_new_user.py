"""Issue 26, a new user's problem end to end: a tiny MLP on (a ± b) mod 13 built by a factory
module beside the spec (``new_user/modtask.py``), components ``add``, ``sub`` and ``memo``, and a
held-out set that is only measured.

Each test copies the factory under its own module name into a fresh folder that is not on
``sys.path`` and runs ``patc`` from another directory, as a user would."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from patternlang import cli

HERE = Path(__file__).with_name("new_user")

MIXTURE_ONLY = '''
model net = factory("MODULE:mlp", width=16)
data add = factory("MODULE:pairs", op="add")
data sub = factory("MODULE:pairs", op="sub")
data memo = factory("MODULE:pairs", op="memo")
mixture base = {add: 0.4, sub: 0.4, memo: 0.2}
train pretrain { model = net  data = base  steps = 4  batch = 16  checkpoints = [4] }
'''


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")


def user_folder(tmp_path: Path, module: str, spec: str) -> Path:
    """A folder holding the factory as ``module.py`` and the spec (``MODULE`` replaced)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / f"{module}.py").write_text((HERE / "modtask.py").read_text())
    path = folder / "modular.pat"
    path.write_text(spec.replace("MODULE", module))
    assert str(folder) not in sys.path
    return path


def patc(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_compile_imports_a_factory_beside_the_spec(capsys, tmp_path):
    spec = user_folder(tmp_path, "modtask_compile26", MIXTURE_ONLY)
    code, out, err = patc(capsys, "compile", str(spec))  # with timing: builds the model
    assert code == 0, err
    assert "modtask_compile26:mlp" in out and "No module named" not in err

"""The import structure is the one docs/architecture.md describes: the contracts of
``[tool.importlinter]`` in pyproject.toml (the package's layers, the layers inside the runtime, the
step kinds' independence, and the sideways rules a stack of layers cannot say), checked by
import-linter, which reads every import of the package, function-level ones included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "patternlang"


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_imports_keep_the_contracts_of_pyproject_toml():
    pytest.importorskip("importlinter", reason="import-linter is in the dev extra")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", "--no-cache", "--config", "pyproject.toml"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout, done.stdout[-3000:]


def test_every_package_and_runtime_module_has_its_place_in_the_layers():
    """A new top-level package or module must be placed in the package's layers (the runtime's
    layers are ``exhaustive``: import-linter itself fails on a runtime module left out)."""
    layers = next(c for c in _contracts() if c["id"] == "layers")["layers"]
    placed = {m.strip().removeprefix("patternlang.") for line in layers
              for m in line.replace(":", "|").split("|")}
    found = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert found - placed == set(), f"not in [tool.importlinter] layers: {sorted(found - placed)}"


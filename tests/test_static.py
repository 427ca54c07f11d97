"""Static checks as tests, so that CI (``make test``) fails on a lint or type finding: ruff and mypy
with the configuration in ``pyproject.toml`` (``plan/``, ``compiler/`` and ``engine/`` strict, the
rest basic). Skipped where the tool is not installed (the ``dev`` extra installs both)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_ruff_finds_nothing():
    done = _run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_mypy_finds_nothing():
    """About a minute on one core (torch's stubs dominate)."""
    done = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]

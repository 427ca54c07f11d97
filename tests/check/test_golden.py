"""Golden files: every shipped spec -> plan JSON, every bad spec -> its diagnostics.

Regenerate after an intended change with ``PAT_REGEN=1 pytest tests/check/test_golden.py``."""

from __future__ import annotations

import os

import pytest

from patternlang.compiler import compile_file
from patternlang.plan.ir import Plan
from .util import HERE, ROOT, diagnostics_text, golden

GOOD = sorted((ROOT / "specs").glob("*.pat"))
BAD = sorted((HERE / "bad").glob("*.pat"))


@pytest.fixture(autouse=True)
def _in_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("PATTERNLANG_PATH", raising=False)


@pytest.mark.parametrize("spec", GOOD, ids=lambda p: p.stem)
def test_good_spec_plan(spec):
    plan = compile_file(os.path.relpath(spec, ROOT))
    text = plan.to_json()
    assert Plan.from_json(text) == plan  # JSON round trip
    golden(HERE / "golden" / "good" / f"{spec.stem}.json", text + "\n")


@pytest.mark.parametrize("spec", BAD, ids=lambda p: p.stem)
def test_bad_spec_diagnostics(spec):
    rel = os.path.relpath(spec, ROOT)
    text = diagnostics_text(spec.read_text(encoding="utf-8"), rel)
    assert text is not None, f"{spec.name} compiled without error"
    golden(HERE / "golden" / "bad" / f"{spec.stem}.txt", text + "\n")


def test_enough_bad_specs():
    assert len(BAD) >= 30
    codes = {line.split("error[")[1][:6] for p in (HERE / "golden" / "bad").glob("*.txt")
             for line in p.read_text().splitlines() if "error[" in line}
    for family in ("PAT1", "PAT2", "PAT3", "PAT4", "PAT5"):
        assert any(c.startswith(family) for c in codes), family


def test_ci_refuses_to_write_goldens(monkeypatch, tmp_path):
    from . import util

    monkeypatch.setattr(util, "IN_CI", True)
    missing = tmp_path / "missing.txt"
    with pytest.raises(AssertionError, match="CI is set"):
        golden(missing, "x\n")
    assert not missing.exists()
    kept = tmp_path / "kept.txt"
    kept.write_text("old\n")
    monkeypatch.setattr(util, "REGEN", True)
    with pytest.raises(AssertionError, match="CI is set"):
        golden(kept, "new\n")
    assert kept.read_text() == "old\n"

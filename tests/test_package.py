"""The package face: ``__all__`` names resolve, lazily, and ``import patternlang`` stays light."""

from __future__ import annotations

import subprocess
import sys

import patternlang


def test_every_public_name_resolves():
    for name in patternlang.__all__:
        assert getattr(patternlang, name) is not None, name
    assert patternlang.RunOptions().device == "auto"
    assert patternlang.run.__module__ == "patternlang.api"


def test_import_does_not_load_torch():
    code = "import sys, patternlang; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

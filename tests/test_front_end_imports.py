"""Issue 26 item 3: the front end is quick because it imports neither torch nor cvxpy.

``patc check`` and the language server read the primitives' signatures from the generated
:mod:`patternlang.catalog` and decide the constraints' feasibility with numpy (scipy only when the
baseline itself breaks a constraint). Measured in a fresh interpreter: what the process imported,
not how long it took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from patternlang import registry

ROOT = Path(__file__).resolve().parents[1]

PROBE = r'''
import json, sys
from patternlang import cli
codes = [cli.main(["check", "specs/quickstart.pat", "specs/parentheses.pat"])]
from patternlang.lsp import analysis
text = open("specs/quickstart.pat").read()
row = next(i for i, ln in enumerate(text.splitlines()) if ln.startswith("model tiny = attn_only"))
analysis.diagnostics(text, "specs/quickstart.pat")
analysis.hover(text, "specs/quickstart.pat", row, 15)
analysis.completions(text, "specs/quickstart.pat", row, 15)
where = analysis.definition(text, "specs/quickstart.pat", row, 15)
import patternlang.lsp.server
print(json.dumps({"codes": codes, "heavy": sorted(m for m in ("torch", "cvxpy") if m in sys.modules),
                  "definition": [str(where.path), where.span.line] if where else None}))
'''


def test_check_and_the_language_server_import_neither_torch_nor_cvxpy():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATTERNLANG_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["codes"] == [0] and got["heavy"] == [], got
    path, line = got["definition"]  # attn_only(...) of the quickstart's model line
    assert path.endswith("patternlang/models/attn_only.py")
    lines = Path(path).read_text().splitlines()[line - 1:line + 2]  # the decorator, then the def
    assert any(ln.startswith("def attn_only(") for ln in lines), lines


def test_the_catalog_is_the_live_registry():
    """Regenerate with ``python -m patternlang.registry`` after changing a primitive."""
    from patternlang.catalog import PRIMITIVES

    assert PRIMITIVES == json.loads(json.dumps(registry.catalog_entries())) or \
        PRIMITIVES == registry.catalog_entries(), "stale: run python -m patternlang.registry"


def test_a_catalogued_primitive_runs_its_real_function():
    prim = registry._catalogued()["data"]["uniform_tokens"]
    comp = prim.fn(vocab=8, length=4)
    assert comp.seq_len == 4 and comp.vocab_size == 8


def test_patc_run_shows_its_plan_before_importing_torch(tmp_path):
    """``patc run``'s first line comes from the compiled plan, before the runtime loads torch
    (``-X importtime`` writes each import to stderr as it happens, in order with our output)."""
    spec = tmp_path / "tiny.pat"
    spec.write_text("model m = attn_only(layers=1, heads=1, d_model=8, context=8, vocab=8)\n"
                    "data u = uniform_tokens(vocab=8, length=8)\n"
                    "train t { model = m  data = u  steps = 1  batch = 2 }\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATTERNLANG_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "patternlang", "run", str(spec),
                           "--out", str(tmp_path / "out"), "--device", "cpu"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    plan_line = next(i for i, ln in enumerate(lines) if "2 steps (train.t, report)" in ln)
    torch_line = next(i for i, ln in enumerate(lines) if ln.split("|")[-1].strip() == "torch")
    assert plan_line < torch_line

"""`bench/run_all.py`: JSON lines are parsed, the generated table is replaced between markers and the
hand-written notes around it are kept; the GPU benchmark skips cleanly without CUDA."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)
MACHINE = {"date": "today", "cpu": "Test CPU", "cores": 2, "torch": "2.x", "threads": 1,
           "gpu": "none", "load_1min": 0.5}


def test_last_json_line_wins():
    out = 'progress\n{"bench": "a", "ratio": 1}\nnoise {\n{"bench": "a", "ratio": 2.5}\n'
    assert run_all.last_json(out) == {"bench": "a", "ratio": 2.5}
    assert run_all.last_json("no json here") is None


def test_rewrite_keeps_notes_and_replaces_the_block(tmp_path):
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\nHand notes stay.\n\n## sgld\nmore notes\n")
    md.write_text(run_all.rewrite(md, run_all.render([{"bench": "x", "ratio": 1.25, "goal": 2.0,
                                                       "seconds": 3.0}], MACHINE, False)))
    first = md.read_text()
    assert first.startswith("# Benchmark results\n") and "| x | 1.25 | 2 | 3 |" in first
    md.write_text(run_all.rewrite(md, run_all.render([{"bench": "y", "ratio": None,
                                                       "skipped": "no CUDA"}], MACHINE, True)))
    second = md.read_text()
    assert second.count(run_all.BEGIN) == 1 and "| x |" not in second and "| y | — |" in second
    assert "Hand notes stay." in second and "## sgld\nmore notes" in second
    assert "Test CPU, 2 cores" in second and "--quick" in second


def test_discover_finds_the_ratio_benchmarks():
    names = [p.stem for p in run_all.discover()]
    assert {"sgld_overhead", "observe_overhead", "llc_toy", "gpu_chains"} <= set(names)
    assert "run_all" not in names and "parens_rules" not in names


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU skip line")
def test_gpu_bench_skips_without_cuda():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_chains.py")], cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                               "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["bench"] == "gpu_chains" and line["ratio"] is None and "CUDA" in line["skipped"]


def test_discover_includes_the_comparison_and_scaling_benchmarks():
    names = [p.stem for p in run_all.discover()]
    assert {"vs_devinterp", "scaling"} <= set(names)
    assert "_plain_torch" not in names  # a helper, not a benchmark


def test_collect_renders_saved_outputs(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text('noise\n{"bench": "x", "ratio": 1.0}\n{"bench": "x", "ratio": 1.5, "goal": 2}\n')
    b.write_text('{"bench": "w", "ratio": null, "skipped": "no devinterp"}\n')
    rows = run_all.collect([a, b])
    assert [r["bench"] for r in rows] == ["w", "x"] and rows[1]["ratio"] == 1.5
    assert rows[1]["source"] == "a.log"
    block = run_all.render(rows, MACHINE, False, collected=True)
    assert "Assembled by `bench/run_all.py --collect`" in block and "| x | 1.5 | 2 |" in block


def test_plain_torch_floor_is_the_same_network():
    sys.path.insert(0, str(ROOT / "bench"))
    from _plain_torch import from_patternlang, max_logit_diff

    from patternlang.models.attn_only import AttnOnlyTransformer

    model = AttnOnlyTransformer(vocab=32, d_model=16, n_layers=2, n_heads=4, d_head=4, context=12, seed=3)
    with torch.no_grad():  # non-zero biases, so every weight's placement is checked
        for name, p in model.named_parameters():
            if name.endswith(("b_Q", "b_K", "b_V", "b_O", "b_U")):
                p.normal_(0, 0.3, generator=torch.Generator().manual_seed(len(name)))
    tokens = torch.randint(0, 32, (5, 12), generator=torch.Generator().manual_seed(0))
    assert max_logit_diff(model, from_patternlang(model), tokens) < 1e-4

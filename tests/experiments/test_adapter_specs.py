"""``specs/adapters/{lens,hf}.pat``: the CI quickstart on a TransformerLens HookedTransformer and on a
Hugging Face GPT-2, end to end through ``patternlang.api.run`` (the extras ``lens`` / ``hf`` are
installed by ``make setup``, so CI runs these; without them they skip).

What must hold whatever the model: every step completes; the attention observables were read from
the library model (one per head, values in (0, 1) at the center); chi is finite with positive
standard errors and its columns cancel under the mixture weights (sum_k h_k chi_k = 0); the solver
moved the weights inside the trust region; verification recorded a curve per arm and seed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from patternlang.api import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("name,module", [("lens", "transformer_lens"), ("hf", "transformers")])
def test_adapter_quickstart_end_to_end(name, module, tmp_path, monkeypatch):
    import torch

    pytest.importorskip(module)
    torch.set_num_threads(1)
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    res = run(ROOT / "specs" / "adapters" / f"{name}.pat", tmp_path / name, device="cpu")
    steps = res.data["steps"]
    assert all(s["complete"] for s in steps.values() if s["kind"] != "report"), steps
    chi_sum = next(iter(res.data["susceptibilities"].values()))
    names = chi_sum["observables"]
    assert names[:4] == ["ih[l1h0]", "ih[l1h1]", "prev[l0h0]", "prev[l0h1]"]
    chi, se = np.asarray(chi_sum["chi"]), np.asarray(chi_sum["chi_se"])
    assert np.isfinite(chi).all() and (se > 0).all()
    h = np.array([res.data["train"]["train.pretrain"]["mixture"][c] for c in chi_sum["components"]])
    assert np.allclose(chi @ h, 0.0, atol=1e-9 + 1e-6 * np.abs(chi).max())
    sol = next(iter(res.data["solves"].values()))
    w, h0 = sol["final_weights"], sol["baseline"]
    assert any(abs(w[k] - h0[k]) > 1e-4 for k in w)
    ver = next(iter(res.data["verification"].values()))
    for body in ver["arms"].values():
        curves = body["curves"]["mean(ih)"]
        assert len(curves) == 2 and all(0 < v < 1 for c in curves for v in c if math.isfinite(v))

"""devinterp's own ``compute_susceptibilities`` on synthetic draws equals patternlang's
``part_row(..., "devinterp")`` on the same draws (skipped when devinterp is not installed: it is the
optional ``bench`` extra). No sampling: the draws are made up, laid out as devinterp stores them."""

from __future__ import annotations

import numpy as np
import pytest

from patternlang.engine.component_chi import PartSample, component_chi
from patternlang.engine.moments import Comoments


def _tree(xr, loss: np.ndarray, init: np.ndarray, ids: np.ndarray):
    C, D, n, T = loss.shape
    ds = xr.Dataset({
        "loss_mix": (("chain", "draw", "batch_mix", "token_pos"), loss.astype(np.float32)),
        "sampling_loss": (("chain", "draw"), loss.mean((2, 3)).astype(np.float32)),
        "init_loss": (("chain", "token_pos"), init.astype(np.float32)),
        "input_ids_mix": (("batch_mix", "position"), ids)})
    return xr.DataTree(ds)


def _moments(loss: np.ndarray) -> Comoments:
    loss = loss.astype(np.float32).astype(np.float64)
    C, D = loss.shape[:2]
    L = loss.mean((2, 3))
    y = loss.reshape(C, D, -1) - L[:, :, None]
    m = Comoments(C, 1, y.shape[2], 10, ("phi",), tuple(map(str, range(y.shape[2]))))
    for d in range(D):
        m.update(L[:, d:d + 1], y[:, d])
    return m


def test_same_numbers_as_devinterp_compute_susceptibilities():
    pytest.importorskip("devinterp")
    xr = pytest.importorskip("xarray")
    from devinterp.slt.susceptibilities import compute_susceptibilities

    rng = np.random.default_rng(0)
    C, D, n, T = 3, 40, 4, 6
    ids = rng.integers(0, 50, (n, T + 1))
    losses, trees = {}, {}
    for wr, shift in (("full", 0.0), ("h0", 0.03), ("h1", -0.02)):
        base = 2.0 + shift + 0.05 * rng.standard_normal((C, D, 1, 1))
        losses[wr] = base * rng.uniform(0.8, 1.2, (1, 1, n, T)) + 0.02 * rng.standard_normal((C, D, n, T))
        init = 1.95 + 0.01 * rng.standard_normal((C, T))
        trees[wr] = _tree(xr, losses[wr], init, ids)
    out = compute_susceptibilities(trees, "mix", include_sampling_task=True)
    ds = out["susceptibilities"].dataset
    init_full = float(trees["full"].dataset["init_loss"].values.mean())
    parts = {wr: PartSample(_moments(losses[wr]), init_full) for wr in ("h0", "h1")}
    mine = component_chi(parts, PartSample(_moments(losses["full"]), init_full), "devinterp")
    b, t = ds["batch"].values.astype(int), ds["target_position"].values.astype(int) - 1
    for i, wr in enumerate(ds["wr"].values.tolist()):
        theirs = np.zeros((n, T))
        theirs[b, t] = ds["sus"].values[:, i]
        row = mine.chi[mine.obs_names.index(f"dL[{wr}]")]
        assert np.allclose(row, theirs.reshape(-1), rtol=2e-4, atol=1e-6 * np.abs(theirs).max())

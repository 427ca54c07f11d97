"""Component susceptibilities (engine/component_chi.py): the two definitions against formulas written
out here, the standardization's invariance to a per-part scale, the columns' exact identities, and
the expansion of parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patternlang.engine.component_chi import (PartSample, component_chi, component_pca, expand_parts,
                                              part_row, separation, standardize)
from patternlang.engine.moments import Comoments


def _sample(rng, C=3, D=60, K=5, shift=0.0, init=1.0):
    """Raw draws: L [C, D] and column losses ℓ [C, D, K] correlated with L, and their co-moments."""
    L = init + 0.1 + 0.05 * rng.standard_normal((C, D))
    ell = L[:, :, None] * rng.uniform(0.5, 1.5, K) + shift + 0.05 * rng.standard_normal((C, D, K))
    m = Comoments(C, 1, K, 10, ("phi",), tuple(f"c{k}" for k in range(K)))
    for d in range(D):
        m.update(L[:, d:d + 1], ell[:, d] - L[:, d:d + 1])
    return L, ell, PartSample(m, init)


def test_devinterp_definition_is_centred_with_the_full_chain():
    rng = np.random.default_rng(0)
    L, ell, part = _sample(rng, shift=0.02)
    Lf, ellf, full = _sample(rng, shift=-0.01)
    phi = L - full.init_loss  # devinterp: φ = L(w) − L̂(w*), L̂ from the full sampling
    want = (phi[:, :, None] * (L[:, :, None] - ell)).mean((0, 1)) - phi.mean() * (Lf[:, :, None] - ellf).mean((0, 1))
    got = part_row(part, full, "devinterp")
    assert np.allclose(got["chi"], want, rtol=1e-10, atol=1e-14)
    # the covariance definition: −Cov within the restricted draws, whatever L̂(w*)
    y = ell - L[:, :, None]
    N = L.size
    cov = ((L - L.mean())[:, :, None] * (y - y.mean((0, 1)))).sum((0, 1)) / (N - 1)
    assert np.allclose(part_row(part, full)["chi"], -cov, rtol=1e-10, atol=1e-14)
    # and their difference is E_C[φ]·(E_C[y] − E_full[y]) (with the covariance over N, not N − 1)
    diff = part_row(part, full)["chi"] * (N - 1) / N - got["chi"]
    assert np.allclose(diff, phi.mean() * (y.mean((0, 1)) - (ellf - Lf[:, :, None]).mean((0, 1))))
    assert np.all(got["se"] > 0)


def test_matrix_rows_are_parts():
    rng = np.random.default_rng(1)
    parts = {p: _sample(rng)[2] for p in ("l0h0", "l0h1", "embed")}
    chi = component_chi(parts, _sample(rng)[2], "devinterp")
    assert chi.obs_names == ["dL[l0h0]", "dL[l0h1]", "dL[embed]"] and chi.chi.shape == (3, 5)
    assert chi.meta["definition"] == "devinterp"
    with pytest.raises(Exception):
        part_row(parts["l0h0"], parts["l0h1"], "other")


def test_standardization_absorbs_a_per_part_factor():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 40))
    scale = np.array([1e-3, 1.0, 30.0, 0.2, 5.0, 1e2])[:, None]  # e.g. Z_full / Z_C per part
    assert np.allclose(standardize(scale * X), standardize(X))
    Z = standardize(X)
    assert np.allclose(Z.mean(axis=0), 0)  # columns centred over the parts
    a, b = component_pca(X), component_pca(scale * X)
    assert np.allclose(np.abs(a.loadings), np.abs(b.loadings))
    assert np.isclose(a.explained.sum(), 1.0)


def test_separation_finds_a_planted_group():
    rng = np.random.default_rng(3)
    signal = rng.standard_normal(200)
    X = 0.3 * rng.standard_normal((6, 200))
    X[[1, 4]] += 3 * signal  # parts 1 and 4 share a direction the others lack
    pca = component_pca(X, [f"p{i}" for i in range(6)])
    best = max(separation(pca, ["p1", "p4"]), key=lambda s: s["margin"])
    assert best["separates"] and best["pc"] == 0


def test_expand_parts():
    got = expand_parts(["l1h*", "embed", "blocks.0.*"], layers=2, heads=2)
    assert got == {"l1h0": ("l1h0",), "l1h1": ("l1h1",), "embed": ("embed.*", "pos_embed.*"),
                   "blocks.0.*": ("blocks.0.*",)}
    assert list(expand_parts(["l*h*"], 2, 3)) == [f"l{a}h{b}" for a in range(2) for b in range(3)]
    with pytest.raises(Exception):
        expand_parts(["l*h*"])


def test_columns_tokens_samples_components_are_exactly_consistent():
    """Same seeds, so the same draws: a sequence's χ is the mean of its tokens' χ, a component's the
    mean of its sequences' (both definitions are linear in the column's loss)."""
    from patternlang.data.synthetic import markov_text, repeated_spans
    from patternlang.observables.component import run_component_chi
    from patternlang.engine.sampler.sgld import SGLDConfig
    from patternlang.models.attn_only import AttnOnlyTransformer
    from patternlang.models.losses import model_loss_fn
    from patternlang.runtime.services.sampling import mixture_batches

    torch.set_num_threads(1)
    model = AttnOnlyTransformer(vocab=16, d_model=16, n_layers=1, n_heads=2, d_head=8, context=8, seed=0)
    comps = {"a": markov_text(vocab=16, length=8, order=1, seed=0),
             "b": repeated_spans(vocab=16, length=8, period=2)}
    w = {"a": 0.6, "b": 0.4}
    cfg = SGLDConfig(step_size=1e-3, gamma=100.0, nbeta=10.0, num_chains=2, num_draws=12, seed=0)
    bf = mixture_batches(comps, w, 8, torch.device("cpu"))
    parts = expand_parts(["l0h*"], 1, 2)
    out = {}
    for cols in ("per_sample", "per_token"):
        for d in ("covariance", "devinterp"):
            out[cols, d] = run_component_chi(model, model_loss_fn("lm"), bf, comps, w, parts, cfg, probe=3,
                                             columns=cols, definition=d)[0]
    for d in ("covariance", "devinterp"):
        s, t = out["per_sample", d], out["per_token", d]
        assert s.obs_names == t.obs_names == ["dL[l0h0]", "dL[l0h1]"]
        assert np.allclose(s.chi[:, :2], t.chi[:, :2])  # the component columns: the same draws
        for k in ("a", "b"):
            seqs = [s.comp_names.index(f"{k}[{i}]") for i in range(3)]
            assert np.allclose(s.chi[:, seqs].mean(1), s.chi[:, s.comp_names.index(k)], rtol=1e-8, atol=1e-12)
            for i in range(3):
                toks = [j for j, n in enumerate(t.comp_names) if n.startswith(f"{k}[{i}]@")]
                assert len(toks) == 7
                assert np.allclose(t.chi[:, toks].mean(1), s.chi[:, s.comp_names.index(f"{k}[{i}]")],
                                   rtol=1e-4, atol=1e-9)

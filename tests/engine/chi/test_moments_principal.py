"""Comoments bookkeeping (merge, resume, memory), χ linearity, principal directions, saving."""

import json

import numpy as np
import pytest

from patternlang.engine.chi import Chi, estimate_chi, principal_directions
from patternlang.engine.moments import Comoments
from patternlang.errors import PatRuntimeError


def draws(C=4, D=200, M=3, K=5, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((C, D, 2))
    x = z @ rng.standard_normal((2, M)) + 0.3 * rng.standard_normal((C, D, M))
    y = z @ rng.standard_normal((2, K)) + 0.3 * rng.standard_normal((C, D, K))
    return x, y


def fill(x, y, batch=10):
    m = Comoments(x.shape[0], x.shape[2], y.shape[2], batch)
    for t in range(x.shape[1]):
        m.update(x[:, t], y[:, t])
    return m


def test_pooled_cov_matches_numpy():
    x, y = draws()
    m = fill(x, y)
    X, Y = x.reshape(-1, x.shape[2]), y.reshape(-1, y.shape[2])
    ref = np.cov(np.hstack([X, Y]).T)[: X.shape[1], X.shape[1]:]
    np.testing.assert_allclose(m.cov(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(estimate_chi(m).chi, -ref, rtol=1e-10, atol=1e-12)
    per = m.cov_per_chain()
    np.testing.assert_allclose(per[1], np.cov(np.hstack([x[1], y[1]]).T)[:3, 3:], rtol=1e-10)


def test_memory_does_not_grow_with_draws():
    x, y = draws(D=50)
    m = fill(x, y)
    size = sum(a.nbytes for a in m.state_dict().values())
    for _ in range(20):
        for t in range(50):
            m.update(x[:, t], y[:, t])
    assert sum(a.nbytes for a in m.state_dict().values()) == size
    assert m.draws == 1050


def test_merge_equals_one_accumulator_and_state_roundtrip():
    x, y = draws(C=6)
    whole = fill(x, y)
    parts = fill(x[:2], y[:2]).merge(fill(x[2:], y[2:]))
    for k, v in whole.state_dict().items():
        if v.dtype.kind == "f":
            np.testing.assert_allclose(parts.state_dict()[k], v, rtol=1e-12, err_msg=k)
    back = Comoments.from_state({k: np.array(v) for k, v in whole.state_dict().items()})
    a, b = estimate_chi(whole), estimate_chi(back)
    np.testing.assert_array_equal(a.chi, b.chi)
    np.testing.assert_array_equal(a.se, b.se)
    with pytest.raises(PatRuntimeError):
        whole.merge(Comoments(2, 1, 1, 10))


def test_standard_errors_are_calibrated():
    """Over many independent repetitions, |χ̂ − χ| < 2 SE about 95% of the time."""
    rng = np.random.default_rng(7)
    hits, reps = 0, 200
    for r in range(reps):
        z = rng.standard_normal((4, 100, 2))
        x, y = z[..., :1], z[..., :1] * 0.5 + z[..., 1:]
        chi = estimate_chi(fill(x, y, batch=10))
        hits += abs(chi.chi[0, 0] + 0.5) < 2 * chi.se[0, 0]
    assert 0.90 <= hits / reps <= 1.0


def test_per_sample_linearity_is_exact():
    """Per-sample columns y_j = ℓ_j − L and the set's column mean_j ℓ_j − L: mean χ_j = χ_set."""
    rng = np.random.default_rng(1)
    C, D, n = 3, 120, 7
    w = rng.standard_normal((C, D, 1))
    ell = (w - rng.standard_normal(n)) ** 2  # [C, D, n] per-sample losses
    L = ell.mean(-1, keepdims=True) * 0.5 + 0.5 * w ** 2  # some mixture loss
    y = np.concatenate([ell.mean(-1, keepdims=True) - L, ell - L], axis=-1)
    chi = estimate_chi(fill(np.concatenate([w, w ** 3], -1), y))
    np.testing.assert_allclose(chi.chi[:, 1:].mean(1), chi.chi[:, 0], rtol=1e-10, atol=1e-13)


def test_principal_directions_recover_a_rank_one_structure():
    x, y = draws(C=4, D=400, M=4, K=6, seed=3)
    chi = estimate_chi(fill(x, y), [f"o{i}" for i in range(4)], [f"c{k}" for k in range(6)])
    uvec, vvec = np.array([1.0, -2.0, 0.5, 0.0]), np.array([0.3, 0.1, -0.4, 0.2, 0.0, 0.5])
    chi.chi = np.outer(uvec, vvec)
    p = principal_directions(chi, standardize=False)
    assert p.explained[0] == pytest.approx(1.0, abs=1e-12)
    assert p.explained.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(p.structure[0]), np.abs(uvec) / np.linalg.norm(uvec), atol=1e-12)
    assert p.structure[0][np.argmax(np.abs(p.structure[0]))] > 0  # sign convention
    obs, comp = p.loadings(0)
    assert set(obs) == {"o0", "o1", "o2", "o3"} and set(comp) == {f"c{k}" for k in range(6)}
    # standardized: the matrix is −correlation, so every entry is within [−1, 1]
    chi2 = estimate_chi(fill(x, y))
    from patternlang.engine.chi import standardized_matrix
    assert np.abs(standardized_matrix(chi2)).max() <= 1.0 + 1e-9
    ps = principal_directions(chi2)
    np.testing.assert_allclose(ps.singular_values, np.linalg.svd(standardized_matrix(chi2))[1])


def test_save_and_load(tmp_path):
    x, y = draws()
    chi = estimate_chi(fill(x, y), ["a", "b", "c"], list("vwxyz"))
    chi.save(tmp_path / "chi.npz", tmp_path / "chi.json")
    back = Chi.load(tmp_path / "chi.npz", tmp_path / "chi.json")
    np.testing.assert_array_equal(back.chi, chi.chi)
    assert back.obs_names == ["a", "b", "c"] and back.comp_names == list("vwxyz")
    j = json.loads((tmp_path / "chi.json").read_text())
    assert j["chi"]["b"]["x"] == pytest.approx(chi.value("b", "x"))


def test_bad_input_is_a_pat_error():
    m = Comoments(2, 3, 4)
    with pytest.raises(PatRuntimeError):
        m.update(np.zeros((2, 2)), np.zeros((2, 4)))
    with pytest.raises(PatRuntimeError):
        estimate_chi(m)

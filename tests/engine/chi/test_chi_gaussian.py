"""χ oracles on Gaussian posteriors: the scalar closed form, a whole matrix, finite differences."""

import numpy as np
import pytest
from .gauss_models import GaussMixture

from patternlang.engine.chi import estimate_chi
from patternlang.engine.finite_diff import paired_finite_difference, shifted_weights
from patternlang.engine.moments import Comoments

A_, B_, C_, NBETA, GAMMA = 2.0, 3.0, 0.7, 50.0, 10.0
CHI_SCALAR = B_ * C_ / (NBETA * A_ + GAMMA)  # 0.019091


def scalar_model() -> GaussMixture:
    return GaussMixture(A=[[[A_]], [[B_]]], c=[[0.0], [C_]], nbeta=NBETA, gamma=GAMMA)


def accumulate(model, h, w, observables, batch_draws=20):
    """Feed draws w [C, D, d] into a Comoments: x = observables(w), y = L_k − L."""
    C, D, _ = w.shape
    x = observables(w)  # [C, D, M]
    Lk = model.losses(w)  # [C, D, K]
    y = Lk - (Lk * np.asarray(h)).sum(-1, keepdims=True)
    mom = Comoments(C, x.shape[-1], y.shape[-1], batch_draws)
    for t in range(D):
        mom.update(x[:, t], y[:, t])
    return mom


def test_closed_form_value():
    assert CHI_SCALAR == pytest.approx(0.019091, abs=5e-7)
    assert scalar_model().chi_linear([1.0, 0.0])[0, 1] == pytest.approx(CHI_SCALAR, rel=1e-12)


def test_scalar_chi_exact_sampler_within_3se():
    model, h = scalar_model(), [1.0, 0.0]
    w = model.sample(h, chains=8, draws=4000, seed=1)
    chi = estimate_chi(accumulate(model, h, w, lambda w: w), ["w"], ["base", "probe"])
    est, se = chi.value("w", "probe"), chi.stderr("w", "probe")
    assert 0 < se < 0.05 * CHI_SCALAR  # the estimate is informative
    assert abs(est - CHI_SCALAR) < 3 * se
    # the base component is the whole mixture: L_base − L ≡ 0, so its χ is exactly zero
    assert chi.value("w", "base") == pytest.approx(0.0, abs=1e-15)
    # iid draws: the two error estimates agree roughly
    assert 0.5 < chi.se_batch[0, 1] / chi.se_chain[0, 1] < 2.0


def test_scalar_chi_langevin_within_3se():
    """Autocorrelated draws from a plain Langevin loop: batch means must widen the error bar."""
    model, h = scalar_model(), [1.0, 0.0]
    w = model.langevin(h, chains=8, steps=30000, step=2e-4, thin=5, seed=2, burnin=2000)
    chi = estimate_chi(accumulate(model, h, w, lambda w: w, batch_draws=100), ["w"], ["base", "probe"])
    est, se = chi.value("w", "probe"), chi.stderr("w", "probe")
    assert se < 0.1 * CHI_SCALAR
    assert abs(est - CHI_SCALAR) < 3 * se + 0.01 * CHI_SCALAR  # + the O(step) Langevin bias


def matrix_model() -> tuple[GaussMixture, np.ndarray]:
    A = [[[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 3.0]], [[0.5, -0.2], [-0.2, 2.0]]]
    c = [[0.0, 0.0], [0.8, -0.4], [-0.5, 0.9]]
    return GaussMixture(A, c, nbeta=40.0, gamma=5.0), np.array([0.5, 0.3, 0.2])


def matrix_observables(w):
    return np.concatenate([w, 0.5 * (w ** 2).sum(-1, keepdims=True)], axis=-1)


def test_matrix_chi_all_entries_within_3se():
    model, h = matrix_model()
    closed = np.vstack([model.chi_linear(h), model.chi_quadratic(h, np.eye(2))[None]])  # [3, 3]
    assert np.linalg.matrix_rank(closed) == 2  # a whole matrix (columns sum to 0 with weights h)
    w = model.sample(h, chains=8, draws=4000, seed=3)
    chi = estimate_chi(accumulate(model, h, w, matrix_observables), ["w0", "w1", "r2"],
                       ["a", "b", "c"])
    z = (chi.chi - closed) / chi.se
    assert np.all(np.abs(z) < 3.5), z  # 9 entries at once: allow the family-wise margin
    assert np.linalg.norm(chi.chi - closed) < 0.05 * np.linalg.norm(closed)
    # columns are differences from the mixture: Σ_k h_k χ[:, k] = 0 exactly
    np.testing.assert_allclose(chi.chi @ h, 0.0, atol=1e-12)


@pytest.mark.parametrize("comp", [1, 2])
def test_paired_finite_difference_matches_chi(comp):
    model, h = matrix_model()
    names = ["a", "b", "c"]
    weights = dict(zip(names, h))

    def sample(wts):
        hh = np.array([wts[n] for n in names])
        return matrix_observables(model.sample(hh, chains=8, draws=2000, seed=11))

    delta = 0.05
    fd = paired_finite_difference(sample, weights, names[comp], delta, model.nbeta,
                                  ["w0", "w1", "r2"])
    closed = np.concatenate([model.chi_linear(h)[:, comp], [model.chi_quadratic(h, np.eye(2))[comp]]])
    # the central difference is O(delta^2) from the derivative, and the paired runs share noise
    assert fd.central
    np.testing.assert_allclose(fd.chi_fd, closed, rtol=0.03, atol=3 * fd.chi_fd_se.max())
    # and it agrees with the covariance estimate within the combined error
    w = model.sample(h, chains=8, draws=4000, seed=5)
    chi = estimate_chi(accumulate(model, h, w, matrix_observables), fd.obs_names, names)
    assert np.all(np.abs(fd.zscores(chi.chi[:, comp], chi.se[:, comp])) < 3.5)


def test_paired_is_tighter_than_unpaired():
    model, h = matrix_model()
    names = ["a", "b", "c"]
    calls = iter(range(100))

    def unpaired(wts):
        hh = np.array([wts[n] for n in names])
        return matrix_observables(model.sample(hh, chains=8, draws=500, seed=next(calls)))

    def paired(wts):
        hh = np.array([wts[n] for n in names])
        return matrix_observables(model.sample(hh, chains=8, draws=500, seed=0))

    fd_p = paired_finite_difference(paired, dict(zip(names, h)), "b", 0.05, model.nbeta)
    fd_u = paired_finite_difference(unpaired, dict(zip(names, h)), "b", 0.05, model.nbeta)
    assert np.all(fd_p.change_se * 2 < fd_u.change_se)
    assert np.all(fd_p.change_se[:2] * 20 < fd_u.change_se[:2])  # linear observables: far tighter


def test_shifted_weights():
    w = shifted_weights({"a": 0.5, "b": 0.5}, "b", 0.1)
    assert w == pytest.approx({"a": 0.45, "b": 0.55})
    from patternlang.errors import PatRuntimeError
    with pytest.raises(PatRuntimeError):
        shifted_weights({"a": 1.0, "b": 0.0}, "b", -0.1)
    with pytest.raises(PatRuntimeError):
        shifted_weights({"a": 1.0}, "zzz", 0.1)

"""Why a finite-difference check can disagree with the covariance χ: the Langevin step.

Oracle (a Gaussian posterior, unadjusted Langevin at step ε, :meth:`GaussMixture.langevin`): the
chain's stationary law is Gaussian with the *exact* mean m(h) but the covariance
(P(I − εP/4))⁻¹, each direction of precision p inflated by 1/(1 − εp/4). The covariance formula
χ = −Cov(φ, L_k − L) reads that inflated covariance; re-sampling at shifted weights reads the mean,
which the step does not bias. So at a step where εp/4 is not small the two estimators part in a
predicted way — fd ÷ cov = 1 − εp/4 along each eigendirection — and both sides of that prediction
are checked here against closed forms (docs/sampler.md, "The step size and the finite-difference
check").
"""

import numpy as np
from .gauss_models import GaussMixture
from .test_chi_gaussian import accumulate, matrix_model

from patternlang.engine.chi import estimate_chi
from patternlang.engine.finite_diff import paired_finite_difference

NAMES = ["a", "b", "c"]


def _step(model: GaussMixture, h: np.ndarray, inflation: float) -> float:
    """The step at which the stiffest direction's εp/4 equals ``inflation``."""
    _, S = model.posterior(h)
    return 4 * inflation / float(np.linalg.eigvalsh(np.linalg.inv(S)).max())


def test_covariance_chi_reads_the_langevin_covariance():
    model, h = matrix_model()
    step = _step(model, h, 0.3)  # the stiff direction's variance inflated by 1/0.7
    w = model.langevin(h, chains=8, steps=40000, step=step, thin=2, seed=4, burnin=200)
    chi = estimate_chi(accumulate(model, h, w, lambda w: w, batch_draws=200), ["w0", "w1"], NAMES)
    biased, exact = model.chi_linear(h, step=step), model.chi_linear(h)
    assert np.all(np.abs((chi.chi - biased) / chi.se) < 3.5), (chi.chi, biased, chi.se)
    # the bias itself is resolved: the exact-posterior χ is many SEs away
    assert np.max(np.abs((chi.chi - exact) / chi.se)) > 8


def test_finite_difference_reads_the_exact_mean_response():
    model, h = matrix_model()
    step = _step(model, h, 0.3)

    def sample(weights):
        hh = np.array([weights[n] for n in NAMES])
        return model.langevin(hh, chains=8, steps=4000, step=step, thin=2, seed=9, burnin=200)

    for comp in (1, 2):
        fd = paired_finite_difference(sample, dict(zip(NAMES, h)), NAMES[comp], 0.05, model.nbeta,
                                      ["w0", "w1"])
        exact, biased = model.chi_linear(h)[:, comp], model.chi_linear(h, step=step)[:, comp]
        np.testing.assert_allclose(fd.chi_fd, exact, rtol=0.03, atol=3 * fd.chi_fd_se.max())
        # ... and the predicted ratio fd ÷ cov lies strictly inside (0.5, 1) here
        ratio = fd.chi_fd / biased
        assert np.all((ratio > 0.6) & (ratio < 0.9)), ratio


def test_the_stationary_covariance_formula():
    """(P(I − εP/4))⁻¹ against the empirical covariance of a long chain (and → P⁻¹ as ε → 0)."""
    model, h = matrix_model()
    step = _step(model, h, 0.3)
    w = model.langevin(h, chains=16, steps=20000, step=step, thin=4, seed=1, burnin=200).reshape(-1, 2)
    inflated, (_, S) = model.langevin_covariance(h, step), model.posterior(h)
    np.testing.assert_allclose(np.cov(w.T), inflated, rtol=0.03, atol=0.01 * np.diag(inflated).max())
    assert np.all(np.diag(inflated) > 1.25 * np.diag(S))  # ... which the exact covariance is far from
    np.testing.assert_allclose(model.langevin_covariance(h, 1e-9), S, rtol=1e-6)

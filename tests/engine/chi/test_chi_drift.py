"""Drift posing as χ: the part of Cov(φ, L_k − L) that each chain's linear trend makes.

Oracle: chains whose observable and loss difference both drift linearly over the draws, with
independent noise around the trends. Their covariance is then all trend (b_x·b_y·Var(t)), the true
χ is 0, and χ with each chain's trend removed (``Chi.chi + Chi.trend``) must come back to 0 within
its SE; on stationary chains the trend part is noise-sized."""

import numpy as np

from patternlang.engine.chi import estimate_chi
from patternlang.engine.moments import Comoments


def _moments(slope_x: float, slope_y: float, chains=4, draws=400, seed=0) -> Comoments:
    rng = np.random.default_rng(seed)
    mom = Comoments(chains, 1, 1, batch_draws=10)
    t = np.arange(draws)
    x = slope_x * t[None] + rng.normal(size=(chains, draws))
    y = slope_y * t[None] + rng.normal(size=(chains, draws))
    for i in range(draws):
        mom.update(x[:, i:i + 1], y[:, i:i + 1])
    return mom


def test_a_common_linear_drift_is_removed_by_detrending():
    mom = _moments(0.01, 0.02)
    chi = estimate_chi(mom)
    expected = 0.01 * 0.02 * (400 ** 2 - 1) / 12  # b_x b_y Var(t)
    assert abs(chi.chi[0, 0] + expected) < 0.1 * expected  # χ = −Cov: all of it drift
    assert np.isclose(chi.trend[0, 0], expected, rtol=0.1)
    assert abs(chi.chi[0, 0] + chi.trend[0, 0]) < 3 * chi.se[0, 0]


def test_stationary_chains_have_a_noise_sized_trend_part():
    chi = estimate_chi(_moments(0.0, 0.0, seed=3))
    assert abs(chi.trend[0, 0]) < chi.se[0, 0]

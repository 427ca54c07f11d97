"""Effective sample sizes: per chain (Geyer) for the LLC trace, per χ entry; the publishable flag."""

import numpy as np
import pytest

from patternlang.engine.chi import estimate_chi
from patternlang.engine.moments import Comoments
from patternlang.engine.sampler.diagnostics import diagnose, effective_sample_size


def _ar1(phi, C, n, seed=0):
    rng = np.random.default_rng(seed)
    e, x = rng.normal(size=(C, n)), np.zeros((C, n))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_geyer_ess_matches_the_ar1_closed_form(phi):
    n = 20000
    ess = effective_sample_size(_ar1(phi, 4, n))
    expected = n * (1 - phi) / (1 + phi)  # integrated autocorrelation time of AR(1): (1+φ)/(1-φ)
    assert np.mean(ess) == pytest.approx(expected, rel=0.15)


def test_ess_edge_cases():
    assert np.isnan(effective_sample_size(np.zeros((2, 3)))).all()
    assert effective_sample_size(np.ones((1, 50)))[0] == 50


def test_diagnostics_carry_ess_and_publishable():
    good = diagnose(np.random.default_rng(1).normal(size=(4, 2000)), np.ones(4, bool), [], 1.0)
    assert good.ess == pytest.approx(8000, rel=0.15) and good.publishable
    d = good.to_dict()
    assert d["publishable"] and len(d["ess_per_chain"]) == 4
    sticky = diagnose(_ar1(0.995, 4, 2000), np.ones(4, bool), [], 1.0)
    assert sticky.ess < 400 and not sticky.publishable
    assert "not publishable" in sticky.summary()


@pytest.mark.parametrize("phi", [0.0, 0.8])
def test_chi_entry_ess_and_z(phi):
    """x = y + noise: χ = -Cov = -1 exactly; the entry's ESS follows the draws' autocorrelation."""
    C, n = 4, 8000
    y = _ar1(phi, C, n, seed=2) * np.sqrt(1 - phi ** 2)  # unit variance
    x = y + _ar1(phi, C, n, seed=3) * np.sqrt(1 - phi ** 2)
    m = Comoments(C, 1, 1, batch_draws=100)
    for t in range(n):
        m.update(x[:, t:t + 1], y[:, t:t + 1])
    chi = estimate_chi(m)
    assert chi.chi[0, 0] == pytest.approx(-1.0, abs=0.1)
    assert chi.z[0, 0] == pytest.approx(chi.chi[0, 0] / chi.se[0, 0])
    # the product of two AR(1) series with coefficient φ is AR(1)-like with φ²
    expected = C * n * (1 - phi ** 2) / (1 + phi ** 2)
    assert chi.ess[0, 0] == pytest.approx(expected, rel=0.35)
    j = chi.to_json_dict()
    assert set(j["z"]) == set(j["ess"]) == set(chi.obs_names)

"""χ of an observable that reads the mixture (the LLC): covariance term + explicit term.

Oracle: on the Gaussian toy the posterior mean of φ_h(w) = nβ·(L_h(w) − L_h(w*)) is a closed form
in h, so its derivative along h' = (1 − ε)·h + ε·e_k is known to machine precision. The estimate
−Cov(φ, L_k − L) + ⟨(1/nβ)·∂φ/∂ε⟩ must match it; the covariance term alone must not.
"""

import numpy as np
from .gauss_models import GaussMixture
from .test_chi_gaussian import matrix_model

from patternlang.engine.chi import estimate_chi
from patternlang.engine.moments import Comoments


def mean_llc(model: GaussMixture, h: np.ndarray) -> float:
    """⟨φ_h⟩ = nβ·Σ_k h_k·(⟨L_k⟩ − L_k(w*)), ⟨L_k⟩ = ½ tr(A_k S) + ½ (m − c_k)ᵀ A_k (m − c_k)."""
    m, S = model.posterior(h)
    mean_Lk = np.array([0.5 * np.trace(A @ S) + 0.5 * (m - c) @ A @ (m - c)
                        for A, c in zip(model.A, model.c)])
    center_Lk = model.losses(model.center)
    return model.nbeta * float(h @ (mean_Lk - center_Lk))


def closed_form_chi(model: GaussMixture, h: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(1/nβ)·d⟨φ⟩/dε toward each component, by a central difference of the closed form."""
    out = []
    for k in range(len(h)):
        e = np.eye(len(h))[k]
        plus, minus = (1 - eps) * h + eps * e, (1 + eps) * h - eps * e
        out.append((mean_llc(model, plus) - mean_llc(model, minus)) / (2 * eps * model.nbeta))
    return np.array(out)


def accumulate_llc(model: GaussMixture, h: np.ndarray, w: np.ndarray, explicit: bool) -> Comoments:
    C, D, _ = w.shape
    Lk, Lk_star = model.losses(w), model.losses(model.center)  # [C, D, K], [K]
    y = Lk - (Lk @ h)[..., None]
    y_star = Lk_star - Lk_star @ h
    x = model.nbeta * ((Lk - Lk_star) @ h)[..., None]  # φ = nβ (L_h(w) − L_h(w*))
    dx = (y - y_star)[:, :, None, :]  # (1/nβ)·∂φ/∂ε = (L_k − L)(w) − (L_k − L)(w*)
    mom = Comoments(C, 1, len(h), batch_draws=20)
    for t in range(D):
        mom.update(x[:, t], y[:, t], dx[:, t] if explicit else None)
    return mom


def test_llc_chi_with_explicit_term_matches_the_closed_form():
    model, h = matrix_model()
    truth = closed_form_chi(model, h)
    w = model.sample(h, chains=8, draws=4000, seed=7)
    full = estimate_chi(accumulate_llc(model, h, w, explicit=True), ["llc"], ["a", "b", "c"])
    z = (full.chi[0] - truth) / full.se[0]
    assert np.all(np.abs(z) < 3.5), (full.chi[0], truth, full.se[0])
    np.testing.assert_allclose(full.chi[0] @ h, 0.0, atol=1e-10)  # still differences from the mix
    # the covariance term alone is off by many standard errors: the explicit term is not optional
    cov_only = estimate_chi(accumulate_llc(model, h, w, explicit=False), ["llc"], ["a", "b", "c"])
    assert np.max(np.abs(cov_only.chi[0] - truth) / cov_only.se[0]) > 10
    np.testing.assert_allclose(full.chi - cov_only.chi, full.explicit, atol=1e-12)


def test_explicit_term_survives_merge_and_state_round_trip():
    model, h = matrix_model()
    w = model.sample(h, chains=4, draws=200, seed=1)
    a = accumulate_llc(model, h, w[:2], explicit=True)
    b = accumulate_llc(model, h, w[2:], explicit=True)
    whole = accumulate_llc(model, h, w, explicit=True)
    merged = Comoments.from_state(a.merge(b).state_dict())
    np.testing.assert_allclose(estimate_chi(merged).chi, estimate_chi(whole).chi, rtol=1e-12)
    # a state saved before the explicit term existed loads with a zero term
    old = {k: v for k, v in whole.state_dict().items() if k not in ("sdx", "bsdx")}
    np.testing.assert_allclose(Comoments.from_state(old).explicit(), 0.0)

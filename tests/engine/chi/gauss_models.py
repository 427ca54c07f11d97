"""Gaussian toy posteriors with closed-form susceptibilities (helpers for the chi tests).

Components L_k(w) = ½ (w − c_k)ᵀ A_k (w − c_k) on w ∈ R^d; mixture L = Σ h_k L_k; the localized
tempered posterior p(w) ∝ exp(−nβ·L(w) − γ/2·|w − w*|²) is Gaussian with precision
P = nβ·Σ h_k A_k + γ I and mean m = P⁻¹ (nβ·Σ h_k A_k c_k + γ w*).
"""

from __future__ import annotations

import numpy as np


class GaussMixture:
    def __init__(self, A, c, nbeta, gamma, center=None):
        self.A = np.asarray(A, float)  # [K, d, d]
        self.c = np.asarray(c, float)  # [K, d]
        self.nbeta, self.gamma = nbeta, gamma
        self.d = self.A.shape[1]
        self.center = np.zeros(self.d) if center is None else np.asarray(center, float)

    def posterior(self, h):
        h = np.asarray(h, float)
        P = self.nbeta * np.einsum("k,kij->ij", h, self.A) + self.gamma * np.eye(self.d)
        b = self.nbeta * np.einsum("k,kij,kj->i", h, self.A, self.c) + self.gamma * self.center
        S = np.linalg.inv(P)
        return S @ b, S

    def losses(self, w):
        """w [..., d] -> component losses [..., K]."""
        diff = w[..., None, :] - self.c  # [..., K, d]
        return 0.5 * np.einsum("...ki,kij,...kj->...k", diff, self.A, diff)

    def langevin_covariance(self, h, step):
        """The stationary covariance of :meth:`langevin` at ``step``: in the eigenbasis of the
        precision P each variance is 1/(p(1 − εp/4)) instead of 1/p (the linear recursion
        w' = (I − εP/2)w + √ε ξ, solved for its fixed point); the mean stays exact."""
        m, S = self.posterior(h)
        P = np.linalg.inv(S)
        return np.linalg.inv(P @ (np.eye(self.d) - step * P / 4))

    def chi_linear(self, h, step=0.0):
        """Closed form χ[i, k] = −Cov(w_i, L_k − L) = Σ [A_k (c_k − m) − Σ_j h_j A_j (c_j − m)]
        (Σ the posterior covariance; with ``step`` > 0, unadjusted Langevin's at that step)."""
        m, S = self.posterior(h)
        if step:
            S = self.langevin_covariance(h, step)
        g = np.einsum("kij,kj->ki", self.A, self.c - m)  # A_k (c_k - m)
        gbar = np.einsum("k,ki->i", h, g)
        return np.stack([S @ (g[k] - gbar) for k in range(len(h))], axis=1)

    def chi_quadratic(self, h, B):
        """χ[k] for φ = ½ wᵀBw: −Cov(φ, L_k − L) with
        Cov(½wᵀBw, ½(w−c)ᵀA(w−c)) = ½ tr(BΣAΣ) + mᵀBΣA(m − c)."""
        m, S = self.posterior(h)
        cov = np.array([0.5 * np.trace(B @ S @ A @ S) + m @ B @ S @ A @ (m - c)
                        for A, c in zip(self.A, self.c)])
        return -(cov - np.dot(h, cov))

    def sample(self, h, chains, draws, seed):
        """Exact iid draws [chains, draws, d] (same seed -> same standard normals for any h)."""
        m, S = self.posterior(h)
        z = np.random.default_rng(seed).standard_normal((chains, draws, self.d))
        return m + z @ np.linalg.cholesky(S).T

    def langevin(self, h, chains, steps, step, thin, seed, burnin=0):
        """Plain (unadjusted) Langevin, devinterp's update: Δw = −ε/2·∇U + √ε·ξ."""
        h = np.asarray(h, float)
        rng = np.random.default_rng(seed)
        Abar = np.einsum("k,kij->ij", h, self.A)
        Acbar = np.einsum("k,kij,kj->i", h, self.A, self.c)
        w = np.tile(self.center, (chains, 1))
        out = []
        for t in range(burnin + steps):
            grad = self.nbeta * (w @ Abar.T - Acbar) + self.gamma * (w - self.center)
            w = w - 0.5 * step * grad + np.sqrt(step) * rng.standard_normal(w.shape)
            if t >= burnin and (t - burnin) % thin == 0:
                out.append(w)
        return np.stack(out, axis=1)

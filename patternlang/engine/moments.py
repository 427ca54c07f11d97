"""Online co-moments of observables and component losses, per chain, in float64.

At every posterior draw the observation engine hands over, for each of C chains,

* ``x``: the M observable coordinates φ_i(w), and
* ``y``: the K loss differences L_k(w) − L(w) (component loss minus mixture loss; in per-sample mode
  also one column per probe sample, ℓ_z(w) − L(w)), and
* ``dx`` (optional): for observables that themselves depend on the mixture (``llc``,
  ``loss_increase()``), their explicit derivative (1/nβ)·∂φ/∂ε along each component's direction
  [C, M, K]; its posterior mean is the *explicit term* of χ (see :mod:`patternlang.engine.chi`).

:class:`Comoments` keeps running sums of x, y, x², y² and x·yᵀ per chain, so that
χ = −Cov(x, y) (see :mod:`patternlang.engine.chi`) is available at any time from O(C·M·K) numbers,
whatever the number of draws. For standard errors it also keeps *batch means*: draws are grouped in
consecutive batches of ``batch_draws`` per chain; each complete batch contributes its own covariance
estimate, and only the sum and sum of squares of those estimates are kept (again O(M·K)).

``merge`` concatenates chains (chain groups run one after another, or on different ranks), and
``state_dict`` / ``from_state`` round-trip through plain numpy arrays for saving and resuming.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patternlang.errors import PatRuntimeError

_SUMS = ("n", "sx", "sy", "sxx", "syy", "sxy", "sdx")
_BATCH = ("bn", "bsx", "bsy", "bsxy", "bsdx")
_POOL = ("nb", "b1", "b2")


def _as64(a, shape: tuple[int, int], what: str) -> np.ndarray:
    arr = a.detach().cpu().double().numpy() if hasattr(a, "detach") else np.asarray(a, np.float64)
    if arr.shape != shape:
        raise PatRuntimeError("observe", f"{what} has shape {arr.shape}, expected {shape}",
                              "pass one row per chain and one column per observable/component")
    return arr


@dataclass
class Comoments:
    """Running float64 sums for C chains, M observables (x) and K components (y).

    Args:
        chains: number of chains C.
        n_obs: number of observable coordinates M.
        n_comp: number of loss-difference columns K.
        batch_draws: draws per batch for batch-means standard errors.
        obs_names / comp_names: optional coordinate names (carried into :func:`estimate_chi`).
    """

    chains: int
    n_obs: int
    n_comp: int
    batch_draws: int = 10
    obs_names: tuple[str, ...] = ()
    comp_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        C, M, K = self.chains, self.n_obs, self.n_comp
        if min(C, M, K) < 1 or self.batch_draws < 2:
            raise ValueError("Comoments needs chains, n_obs, n_comp >= 1 and batch_draws >= 2")
        z = np.zeros
        self.n = z(C)
        self.sx, self.sy = z((C, M)), z((C, K))
        self.sxx, self.syy = z((C, M)), z((C, K))
        self.sxy = z((C, M, K))
        self.sdx = z((C, M, K))  # explicit derivatives of mixture-dependent observables
        # the batch in progress, per chain
        self.bn = z(C)
        self.bsx, self.bsy, self.bsxy, self.bsdx = z((C, M)), z((C, K)), z((C, M, K)), z((C, M, K))
        # completed batches, per chain (so a subset of chains can be selected exactly): count,
        # sum and sum of squares of the batch estimates of Cov(x, y) − mean(dx) = −χ
        self.nb = z(C)
        self.b1, self.b2 = z((C, M, K)), z((C, M, K))

    # ------------------------------------------------------------------ accumulate
    def update(self, x, y, dx=None) -> None:
        """Add one draw: ``x`` [C, M] observables, ``y`` [C, K] loss differences and optionally
        ``dx`` [C, M, K] explicit derivatives (torch or numpy; None = observables independent of
        the mixture)."""
        x = _as64(x, (self.chains, self.n_obs), "x")
        y = _as64(y, (self.chains, self.n_comp), "y")
        xy = x[:, :, None] * y[:, None, :]
        self.n += 1
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.syy += y * y
        self.sxy += xy
        self.bn += 1
        self.bsx += x
        self.bsy += y
        self.bsxy += xy
        if dx is not None:
            dx = _as64(dx, (self.chains, self.n_obs, self.n_comp), "dx")
            self.sdx += dx
            self.bsdx += dx
        full = self.bn >= self.batch_draws
        if full.any():
            self._close_batches(full)

    def _close_batches(self, which: np.ndarray) -> None:
        n = self.bn[which][:, None, None]
        cov = (self.bsxy[which] - self.bsx[which][:, :, None] * self.bsy[which][:, None, :] / n) / (n - 1)
        cov = cov - self.bsdx[which] / n
        self.nb[which] += 1
        self.b1[which] += cov
        self.b2[which] += cov * cov
        for name in _BATCH:
            getattr(self, name)[which] = 0.0

    # ------------------------------------------------------------------ read out
    @property
    def draws(self) -> int:
        """Draws per chain (the smallest, if chains differ)."""
        return int(self.n.min())

    def mean_x(self) -> np.ndarray:
        """Posterior mean of each observable, pooled over chains: [M]."""
        return self.sx.sum(0) / self.n.sum()

    def cov(self) -> np.ndarray:
        """Cov(x, y) over all draws of all chains (pooled mean), unbiased: [M, K]."""
        N = self.n.sum()
        if N < 2:
            raise PatRuntimeError("susceptibility", f"only {int(N)} draw(s) recorded",
                                  "sample more draws (after burn-in) before estimating chi")
        sx, sy = self.sx.sum(0), self.sy.sum(0)
        return (self.sxy.sum(0) - sx[:, None] * sy[None, :] / N) / (N - 1)

    def explicit(self) -> np.ndarray:
        """Posterior mean of the explicit derivatives ``dx``, pooled over chains: [M, K] (zeros when
        no observable depends on the mixture)."""
        return self.sdx.sum(0) / max(self.n.sum(), 1)

    def explicit_per_chain(self) -> np.ndarray:
        """The mean of ``dx`` in each chain: [C, M, K]."""
        return self.sdx / np.maximum(self.n, 1)[:, None, None]

    def cov_per_chain(self) -> np.ndarray:
        """Cov(x, y) of each chain around its own means: [C, M, K]."""
        n = self.n[:, None, None]
        return (self.sxy - self.sx[:, :, None] * self.sy[:, None, :] / n) / np.maximum(n - 1, 1)

    def var_x(self) -> np.ndarray:
        N = self.n.sum()
        mx = self.sx.sum(0) / N
        return (self.sxx.sum(0) - N * mx * mx) / max(N - 1, 1)

    def var_y(self) -> np.ndarray:
        N = self.n.sum()
        my = self.sy.sum(0) / N
        return (self.syy.sum(0) - N * my * my) / max(N - 1, 1)

    def batch_means(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(number of completed batches, mean and variance of the batch estimates of −χ, i.e. of
        Cov(x, y) − mean(dx))."""
        nb = int(self.nb.sum())
        if nb == 0:
            z = np.full((self.n_obs, self.n_comp), np.nan)
            return 0, z, z
        b1, b2 = self.b1.sum(0), self.b2.sum(0)
        mean = b1 / nb
        var = (b2 - nb * mean * mean) / max(nb - 1, 1) if nb > 1 else np.full_like(mean, np.nan)
        return nb, mean, np.maximum(var, 0.0)

    # ------------------------------------------------------------------ combine and persist
    def merge(self, other: "Comoments") -> "Comoments":
        """A new accumulator holding the chains of ``self`` followed by those of ``other``."""
        if (self.n_obs, self.n_comp, self.batch_draws) != (other.n_obs, other.n_comp,
                                                             other.batch_draws):
            raise PatRuntimeError("susceptibility", "cannot merge moments of different shapes "
                                  f"({self.n_obs}x{self.n_comp} vs {other.n_obs}x{other.n_comp})",
                                  "merge only chain groups of the same sample step")
        out = Comoments(self.chains + other.chains, self.n_obs, self.n_comp, self.batch_draws,
                        self.obs_names or other.obs_names, self.comp_names or other.comp_names)
        for name in _SUMS + _BATCH + _POOL:
            setattr(out, name, np.concatenate([getattr(self, name), getattr(other, name)]))
        return out

    def finite_chains(self) -> np.ndarray:
        """[C] bool: chains whose every running sum is finite (a chain that produced NaN or inf
        observations or losses poisons any estimate it is pooled into)."""
        ok = np.ones(self.chains, bool)
        for name in _SUMS + _POOL:
            a = getattr(self, name).reshape(self.chains, -1)
            ok &= np.isfinite(a).all(axis=1)
        return ok

    def select(self, keep: np.ndarray) -> "Comoments":
        """A new accumulator with only the chains where ``keep`` (a [C] bool mask) is true."""
        keep = np.asarray(keep, bool)
        out = Comoments(int(keep.sum()), self.n_obs, self.n_comp, self.batch_draws,
                        self.obs_names, self.comp_names)
        for name in _SUMS + _BATCH + _POOL:
            setattr(out, name, np.array(getattr(self, name)[keep]))
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume, as numpy arrays (``np.savez``-ready)."""
        out = {name: np.asarray(getattr(self, name)) for name in _SUMS + _BATCH + _POOL}
        out["shape"] = np.array([self.chains, self.n_obs, self.n_comp, self.batch_draws])
        out["obs_names"] = np.array(self.obs_names, dtype=str)
        out["comp_names"] = np.array(self.comp_names, dtype=str)
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "Comoments":
        C, M, K, B = (int(v) for v in state["shape"])
        out = cls(C, M, K, B, tuple(str(s) for s in state.get("obs_names", ())),
                  tuple(str(s) for s in state.get("comp_names", ())))
        for name in _SUMS + _BATCH + _POOL:
            if name in state:  # run directories written before ``dx`` existed lack sdx / bsdx
                setattr(out, name, np.array(state[name], dtype=np.float64))
        return out

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
whatever the number of draws. For standard errors it also keeps *batches*: the sums of x, y, x·yᵀ
and dx over consecutive batches of ``batch_draws`` draws per chain, at most ``max_batches`` of them
per chain — when the store is full, neighbouring batches merge and later batches are twice as long,
so memory stays O(max_batches·M·K) per chain whatever the number of draws.

:meth:`Comoments.batch_se` turns them into the standard error of −χ = Cov(x, y) − ⟨dx⟩ by
*blocking* (Flyvbjerg & Petersen 1989): −χ is the mean over all draws of the influence
(x − x̄)(y − ȳ) − dx, with the pooled means; each batch gives that mean over its draws, blocks of
1, 2, 4, ... consecutive batches of a chain give coarser ones, and the SE at each level is the
spread of the block means over √(number of blocks). Correlation longer than a block makes the
finer levels too small, so each entry takes the first level whose blocks are uncorrelated (lag-1
autocorrelation below 0.1), never less than a finer level's, or, when no level with at least
``min_blocks`` blocks is, the largest of them (:func:`blocking_se`).
Using the pooled means makes chains that sit in different places count too. (Until issue 12 the
batches gave their *own* covariances, around their own means, and the SE was their spread over
√batches: with batches shorter than the chains' autocorrelation that missed the slow part of the
covariance entirely and was measured 80× too small on a Gaussian oracle,
``tests/engine/chi/test_chi_se.py``.)

``merge`` concatenates chains (chain groups run one after another, or on different ranks), and
``state_dict`` / ``from_state`` round-trip through plain numpy arrays for saving and resuming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from patternlang.errors import PatRuntimeError

_SUMS = ("n", "sx", "sy", "sxx", "syy", "sxy", "sdx")
_BATCH = ("bn", "bsx", "bsy", "bsxy", "bsdx")
_STORE = ("fx", "fy", "fxy", "fdx")  # the completed batches' sums of the _BATCH sums after "bn"
_POOL = ("nbat", "bsize", *_STORE)
BATCH_BYTES_PER_CHAIN = 32 * 2 ** 20  # the stored batches' budget: max_batches shrinks to fit it


def _as64(a: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
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
        batch_draws: draws per batch (the finest blocking level of :meth:`batch_se`).
        obs_names / comp_names: optional coordinate names (carried into :func:`estimate_chi`).
        max_batches: batches kept per chain (even; lowered, not below 8, to keep the store within
            ``BATCH_BYTES_PER_CHAIN`` per chain); when full, neighbours merge.
    """

    chains: int
    n_obs: int
    n_comp: int
    batch_draws: int = 10
    obs_names: tuple[str, ...] = ()
    comp_names: tuple[str, ...] = ()
    max_batches: int = 64

    def __post_init__(self) -> None:
        C, M, K = self.chains, self.n_obs, self.n_comp
        if min(C, M, K) < 1 or self.batch_draws < 2 or self.max_batches < 2 or self.max_batches % 2:
            raise ValueError("Comoments needs chains, n_obs, n_comp >= 1, batch_draws >= 2 and an even "
                             "max_batches >= 2")
        while self.max_batches > 8 and self.max_batches * M * K * 2 * 8 > BATCH_BYTES_PER_CHAIN:
            self.max_batches //= 2
        J = self.max_batches
        z = np.zeros
        self.n = z(C)
        self.sx, self.sy = z((C, M)), z((C, K))
        self.sxx, self.syy = z((C, M)), z((C, K))
        self.sxy = z((C, M, K))
        self.sdx = z((C, M, K))  # explicit derivatives of mixture-dependent observables
        # the batch in progress, per chain
        self.bn = z(C)
        self.bsx, self.bsy, self.bsxy, self.bsdx = z((C, M)), z((C, K)), z((C, M, K)), z((C, M, K))
        # completed batches, per chain (so a subset of chains can be selected exactly): how many,
        # their length in draws, and their sums of x, y, x·yᵀ and dx
        self.nbat, self.bsize = z(C), np.full(C, float(self.batch_draws))
        self.fx, self.fy, self.fxy, self.fdx = z((C, J, M)), z((C, J, K)), z((C, J, M, K)), z((C, J, M, K))

    # ------------------------------------------------------------------ accumulate
    def update(self, x: Any, y: Any, dx: Any = None) -> None:
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
        full = self.bn >= self.bsize
        if full.any():
            self._close_batches(full)

    def _close_batches(self, which: np.ndarray) -> None:
        chains = np.flatnonzero(which)
        slots = self.nbat[chains].astype(int)
        for store, running in zip(_STORE, _BATCH[1:]):
            getattr(self, store)[chains, slots] = getattr(self, running)[chains]
        self.nbat[chains] += 1
        for name in _BATCH:
            getattr(self, name)[which] = 0.0
        for c in chains[self.nbat[chains] >= self.max_batches]:
            self._halve(c)

    def _halve(self, c: int) -> None:
        """Merge chain c's stored batches pairwise; its later batches are twice as long."""
        half = self.max_batches // 2
        for store in _STORE:
            a = getattr(self, store)
            a[c, :half] = a[c, 0::2] + a[c, 1::2]
            a[c, half:] = 0.0
        self.nbat[c] = half
        self.bsize[c] *= 2

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

    def batch_se(self, min_blocks: int = 8) -> np.ndarray:
        """The blocking standard error of −χ = Cov(x, y) − ⟨dx⟩ (module docstring): [M, K], NaN
        with fewer than ``min_blocks`` stored batches."""
        M, K = self.n_obs, self.n_comp
        nan = np.full((M, K), np.nan)
        if self.nbat.sum() < min_blocks or self.n.sum() < 2:
            return nan
        N = self.n.sum()
        mx, my = self.sx.sum(0) / N, self.sy.sum(0) / N
        series = []  # each chain's batch means of the influence, [J_c, M, K]
        for c in range(self.chains):
            J, b = int(self.nbat[c]), self.bsize[c]
            fx, fy = self.fx[c, :J] / b, self.fy[c, :J] / b
            series.append(self.fxy[c, :J] / b - mx[None, :, None] * fy[:, None, :]
                          - fx[:, :, None] * my[None, None, :] + np.outer(mx, my)[None] - self.fdx[c, :J] / b)
        return blocking_se(series, min_blocks)

    def trend_cov(self) -> np.ndarray:
        """The part of Cov(x, y) that each chain's linear trend over its draws makes: [M, K].

        Per chain, the slopes b_x, b_y of the batch means on the draw index (least squares,
        weighted by batch length) give a trend contribution b_x·b_yᵀ·Var(t) to that chain's
        covariance (a residual is orthogonal to its fit, so Cov = Cov(residuals) + this); the
        chains' contributions are averaged with weights n_c. Cov − this is the covariance with
        every chain's linear trend removed — a drifting chain's common trend in φ and L_k can
        pose as χ. Zeros for chains with fewer than 3 batches."""
        out = np.zeros((self.n_obs, self.n_comp))
        total = 0.0
        for c in range(self.chains):
            J, b = int(self.nbat[c]), float(self.bsize[c])
            if J < 3:
                continue
            t = (np.arange(J) + 0.5) * b
            tc = t - t.mean()
            sxx = float(tc @ tc)
            bx = tc @ (self.fx[c, :J] / b) / sxx  # [M]
            by = tc @ (self.fy[c, :J] / b) / sxx  # [K]
            n = J * b
            out += n * np.outer(bx, by) * (n * n - 1) / 12.0
            total += n
        return out / total if total else out

    # ------------------------------------------------------------------ combine and persist
    def merge(self, other: Comoments) -> Comoments:
        """A new accumulator holding the chains of ``self`` followed by those of ``other``."""
        if (self.n_obs, self.n_comp, self.batch_draws, self.max_batches) != (
                other.n_obs, other.n_comp, other.batch_draws, other.max_batches):
            raise PatRuntimeError("susceptibility", "cannot merge moments of different shapes "
                                  f"({self.n_obs}x{self.n_comp} vs {other.n_obs}x{other.n_comp})",
                                  "merge only chain groups of the same sample step")
        out = Comoments(self.chains + other.chains, self.n_obs, self.n_comp, self.batch_draws,
                        self.obs_names or other.obs_names, self.comp_names or other.comp_names,
                        self.max_batches)
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

    def select(self, keep: np.ndarray) -> Comoments:
        """A new accumulator with only the chains where ``keep`` (a [C] bool mask) is true."""
        keep = np.asarray(keep, bool)
        out = Comoments(int(keep.sum()), self.n_obs, self.n_comp, self.batch_draws,
                        self.obs_names, self.comp_names, self.max_batches)
        for name in _SUMS + _BATCH + _POOL:
            setattr(out, name, np.array(getattr(self, name)[keep]))
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume, as numpy arrays (``np.savez``-ready)."""
        out = {name: np.asarray(getattr(self, name)) for name in _SUMS + _BATCH + _POOL}
        out["shape"] = np.array([self.chains, self.n_obs, self.n_comp, self.batch_draws, self.max_batches])
        out["obs_names"] = np.array(self.obs_names, dtype=str)
        out["comp_names"] = np.array(self.comp_names, dtype=str)
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> Comoments:
        shape = [int(v) for v in state["shape"]]
        C, M, K, B = shape[:4]
        out = cls(C, M, K, B, tuple(str(s) for s in state.get("obs_names", ())),
                  tuple(str(s) for s in state.get("comp_names", ())), *shape[4:])
        for name in _SUMS + _BATCH + _POOL:
            # run directories written before ``dx`` existed lack sdx / bsdx; those written before
            # the stored batches (issue 12) lack _POOL: their batch SE is NaN, the chains' SE stands
            if name in state:
                setattr(out, name, np.array(state[name], dtype=np.float64))
        return out


def blocking_se(series: list[np.ndarray], min_blocks: int = 8, max_rho: float = 0.1) -> np.ndarray:
    """The standard error of the grand mean of per-chain series (``series[c]``: [J_c, ...], equal
    weights per element) by blocking: at levels of 1, 2, 4, ... consecutive elements per block,
    SE = sd(block means)/√(blocks). Each entry takes the first level whose blocks are uncorrelated
    (lag-1 autocorrelation within chains, around the grand mean, below ``max_rho``; the finer levels'
    SEs are a lower bound) or, if none is before fewer than ``min_blocks`` blocks remain, the largest
    SE over the levels."""
    shape = series[0].shape[1:]
    best, chosen = np.full(shape, np.nan), np.full(shape, np.nan)
    block = 1
    while True:
        blocks = [z[: len(z) // block * block].reshape(-1, block, *shape).mean(1) for z in series]
        n = sum(len(b) for b in blocks)
        if n < min_blocks:
            break
        grand = np.concatenate(blocks).mean(0)
        dev = [b - grand for b in blocks]
        var = sum((d * d).sum(0) for d in dev)
        se = np.sqrt(var / (n - 1) / n)
        best = np.fmax(best, se)
        lag1 = sum((d[1:] * d[:-1]).sum(0) for d in dev if len(d) > 1)
        rho = np.divide(lag1, var, out=np.zeros(shape), where=var > 0)
        settle = np.isnan(chosen) & (rho < max_rho)
        chosen[settle] = best[settle]
        block *= 2
    return np.where(np.isnan(chosen), best, chosen)

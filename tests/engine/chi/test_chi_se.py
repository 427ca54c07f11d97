"""Standard errors of χ that hold when the chains are slow (issue 12).

Oracle: independent replicates. A scalar Gaussian posterior sampled by plain Langevin with an
autocorrelation time of ~90 draws (longer than a batch of 10 draws, a third of a chain): the spread
of the χ estimate over 40 independent replicates is the SE the estimator should report. The
earlier batch-means estimator (each batch's own covariance around its own means) reported ~1/80 of
it there; the between-chain SE of 4 chains about half.
"""

import numpy as np
import pytest
from .test_chi_gaussian import accumulate, scalar_model

from patternlang.engine.chi import estimate_chi
from patternlang.engine.moments import Comoments


def _replicates(step, steps, thin, reps=40):
    model, h = scalar_model(), [1.0, 0.0]
    out = []
    for rep in range(reps):
        w = model.langevin(h, chains=4, steps=steps, step=step, thin=thin, seed=100 + rep, burnin=3000)
        chi = estimate_chi(accumulate(model, h, w, lambda w: w, batch_draws=10), ["w"], ["base", "probe"])
        out.append((chi.chi[0, 1], chi.se[0, 1], chi.se_batch[0, 1]))
    return np.array(out)


@pytest.mark.parametrize("step,steps,thin", [(2e-5, 3000, 10), (2e-4, 3000, 5)])
def test_reported_se_matches_the_spread_of_replicates(step, steps, thin):
    est, se, se_batch = _replicates(step, steps, thin).T
    spread = est.std(ddof=1)
    assert 0.75 < se.mean() / spread < 1.3, (se.mean(), spread)
    assert 0.6 < se_batch.mean() / spread < 1.3  # the blocking SE alone, not only the chains'
    covered = np.abs(est - est.mean()) < 2 * se
    assert covered.mean() >= 0.8


def _draws(C=3, M=2, K=2, n=333, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, C, M)).cumsum(0) * 0.1 + rng.normal(size=(n, C, M))
    y = x[..., :1] * 0.5 + rng.normal(size=(n, C, K))
    return x, y, rng.normal(size=(n, C, M, K))


def _fill(m, x, y, dx):
    for t in range(len(x)):
        m.update(x[t], y[t], dx[t])
    return m


def test_store_halves_and_keeps_exact_sums():
    x, y, dx = _draws()
    m = _fill(Comoments(3, 2, 2, batch_draws=4, max_batches=8), x, y, dx)
    # 333 draws, batches of 4 -> the store of 8 halved until its batches hold 64 draws
    J, b = m.nbat.astype(int), m.bsize
    assert np.all(J <= 8) and np.all(b == 64) and np.all(J * b + m.bn == 333)
    for store, running, full in (("fx", "bsx", "sx"), ("fy", "bsy", "sy"), ("fxy", "bsxy", "sxy"),
                                 ("fdx", "bsdx", "sdx")):
        total = getattr(m, store).sum(1) + getattr(m, running)
        np.testing.assert_allclose(total, getattr(m, full), rtol=1e-12, atol=1e-9)
    assert np.all(np.isfinite(m.batch_se()))


def test_select_merge_and_state_keep_the_batch_se():
    x, y, dx = _draws(C=4)
    m = _fill(Comoments(4, 2, 2, batch_draws=5, max_batches=16), x, y, dx)
    again = Comoments.from_state(m.state_dict())
    np.testing.assert_array_equal(again.batch_se(), m.batch_se())
    a, b = m.select(np.array([1, 1, 0, 0], bool)), m.select(np.array([0, 0, 1, 1], bool))
    np.testing.assert_allclose(a.merge(b).batch_se(), m.batch_se(), rtol=1e-12)


def test_state_without_stored_batches_loads_with_no_batch_se():
    """Run directories written before the batch store: the chains' SE stands alone."""
    x, y, dx = _draws()
    m = _fill(Comoments(3, 2, 2, batch_draws=4), x, y, dx)
    old = {k: v for k, v in m.state_dict().items() if k not in ("nbat", "bsize", "fx", "fy", "fxy", "fdx")}
    old["shape"] = old["shape"][:4]
    loaded = Comoments.from_state(old)
    assert np.all(np.isnan(loaded.batch_se()))
    chi = estimate_chi(loaded)
    np.testing.assert_array_equal(chi.se, chi.se_chain)


def test_memory_budget_lowers_max_batches():
    assert Comoments(2, 10, 3).max_batches == 64
    big = Comoments(1, 40, 4000)  # 64 batches x 160 000 entries x 2 arrays x 8 bytes > 32 MB
    assert 8 <= big.max_batches < 64 and big.fxy.shape == (1, big.max_batches, 40, 4000)

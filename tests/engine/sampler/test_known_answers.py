"""Known-answer tests of the LLC estimator (reference/patterning-method.md §6)."""

import numpy as np
import pytest
import torch

from patternlang.engine.sampler.llc import restricted_llc
from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.testing.toy_models import (GaussianToy, NormalCrossing, ReducedRankRegression,
                                           normal_crossing_exact, rrr_llc)


def test_rrr_formula_values():
    got = [rrr_llc(*mhn) for mhn in [(5, 3, 5), (5, 4, 5), (4, 3, 8), (8, 3, 4), (3, 8, 4)]]
    assert got == [6.5, 8.0, 6.0, 6.0, 6.0]


def test_gaussian_llc_with_localization():
    toy = GaussianToy([1.0, 4.0, 0.5])
    cfg = SGLDConfig(step_size=1e-4, gamma=5.0, nbeta=200.0, num_chains=8, num_draws=3000, burnin=1000)
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
    expected = toy.expected_llc(200.0, 5.0)  # 1.4609
    assert expected == pytest.approx(1.4609, abs=1e-4)
    _close(res, expected)


def test_restricted_llc_equals_llc_of_smaller_model():
    H = torch.tensor([[2.0, 0.8, 0.3], [0.8, 1.0, 0.2], [0.3, 0.2, 3.0]])
    big, small = GaussianToy(H), GaussianToy(H[1:, 1:])
    cfg = SGLDConfig(step_size=1e-4, gamma=2.0, nbeta=100.0, num_chains=8, num_draws=3000, burnin=1000)
    # freeze u = w_0 at w*_0 = 0: the loss over c = (w_1, w_2) is ½ cᵀ H_cc c, the smaller model's
    mask_model = _Masked(big)
    res_c = restricted_llc(mask_model, mask_model.loss, mask_model.batch_fn, cfg, ["c"])
    res_s = run_sgld(small, small.batched_loss, small.batch_fn, cfg)
    target = small.expected_llc(100.0, 2.0)
    _close(res_c, target)
    _close(res_s, target)


def _close(res, target):
    """Within 3 standard errors plus 3% (SGLD step-size bias), with an SE small enough to matter."""
    assert res.llc_se < 0.1 * target
    assert abs(res.llc_mean - target) < 3 * res.llc_se + 0.03 * target


class _Masked(torch.nn.Module):
    """The 3-coordinate Gaussian written with two parameters u (1) and c (2), so ``restrict=['c']``."""

    def __init__(self, toy):
        super().__init__()
        self.H = toy.H
        self.u = torch.nn.Parameter(torch.zeros(1))
        self.c = torch.nn.Parameter(torch.zeros(2))
        self.data = {"x": torch.zeros(4, 1)}

    def batch_fn(self, chain, step, g):
        return self.data

    def loss(self, model, batch):
        w = torch.cat([model.u, model.c])
        return (0.5 * w @ model.H @ w).expand(batch["x"].shape[0])


FAST = [[0, 1], [1, 1], [0, 2]]
SLOW = [[1, 2], [2, 2], [0, 3], [1, 3], [2, 3], [3, 3]]


def _normal_crossing(powers, draws):
    toy = NormalCrossing(powers)
    cfg = SGLDConfig(step_size=1e-4, gamma=1.0, num_chains=8, num_draws=draws, burnin=draws // 4,
                     init_loss_batches=1, seed=1)
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
    exact = normal_crossing_exact(toy, res.nbeta, 1.0)
    return toy, res, exact


@pytest.mark.parametrize("powers", FAST)
def test_normal_crossing_fast(powers):
    toy, res, exact = _normal_crossing(powers, 4000)
    assert res.llc_se < 0.15 * exact  # the tolerance below is not vacuous
    assert abs(res.llc_mean - exact) < 3 * res.llc_se + 0.05 * exact
    if toy.multiplicity == 1 and powers[0] == 0:  # 1-D cases are already at their asymptote
        assert res.llc_mean == pytest.approx(toy.true_llc, rel=0.15)


@pytest.mark.slow
@pytest.mark.parametrize("powers", SLOW)
def test_normal_crossing_slow(powers):
    toy, res, exact = _normal_crossing(powers, 8000)
    assert abs(res.llc_mean - exact) < 3 * res.llc_se + 0.05 * exact
    assert exact < toy.true_llc * 1.1  # finite-nβ truth lies at or below λ (log / power corrections)


# Reduced-rank regression, true rank 0, the bench's settings (n = 1000, nβ = n/log n, γ = 1, ε = 2e-4,
# localized at an Adam-fitted empirical minimum). The estimator's own finite-n bias at these settings
# is measured in bench/RESULTS.md: +4...+11 % for three cases and ≈ +20 % for (4,3,8) and (8,3,4), where
# the empirical minimum sits nβ(L(0) - L(ŵ)) ≈ β·½Σσ² ≈ 2 below the true parameter. The bounds are
# those measured biases plus about 3 standard errors of these shorter runs: a sampler error of the
# usual kinds (a wrong nβ, missing noise or drift, a frozen coordinate, a 2x in ε) moves λ̂ far outside.
RRR_CASES = [((5, 3, 5), -0.06, 0.16), ((5, 4, 5), -0.08, 0.12), ((4, 3, 8), 0.0, 0.30),
             ((8, 3, 4), 0.0, 0.30), ((3, 8, 4), -0.06, 0.12)]


def _rrr(mhn, draws):
    toy = ReducedRankRegression(*mhn, sufficient_stats=True)
    cfg = SGLDConfig(step_size=2e-4, gamma=1.0, nbeta=toy.nbeta, num_chains=4, num_draws=draws,
                     burnin=3000, init_loss_batches=1, seed=1, check_every=100)
    return toy, run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center=toy.fit_center(seed=42))


@pytest.mark.parametrize("mhn,lo,hi", [c for c in RRR_CASES if c[0] in ((5, 3, 5), (3, 8, 4))])
def test_rrr_known_answer_fast(mhn, lo, hi):
    toy, res = _rrr(mhn, 3000)
    assert res.llc_se < 0.05 * toy.true_llc
    assert lo < res.llc_mean / toy.true_llc - 1 < hi


@pytest.mark.slow
@pytest.mark.parametrize("mhn,lo,hi", [c for c in RRR_CASES if c[0] not in ((5, 3, 5), (3, 8, 4))])
def test_rrr_known_answer_slow(mhn, lo, hi):
    toy, res = _rrr(mhn, 6000)
    assert res.llc_se < 0.05 * toy.true_llc
    assert lo < res.llc_mean / toy.true_llc - 1 < hi


def test_rrr_sufficient_stats_is_the_full_batch_loss():
    full, stats = ReducedRankRegression(4, 3, 8, n=300), ReducedRankRegression(4, 3, 8, n=300, sufficient_stats=True)
    g = torch.Generator().manual_seed(0)
    p = {"A": torch.randn(2, 3, 4, generator=g), "B": torch.randn(2, 8, 3, generator=g)}
    a = full.batched_loss(p, {k: v.expand(2, *v.shape) for k, v in full.data.items()}).mean(-1)
    b = stats.batched_loss(p, {k: v.expand(2, *v.shape) for k, v in stats.data.items()}).mean(-1)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

def test_normal_crossing_sufficient_stats_is_the_full_batch_loss():
    """The moment form of the loss equals the mean over the data, so large n costs nothing per step."""
    full, stats = NormalCrossing([1, 2], n=500), NormalCrossing([1, 2], n=500, sufficient_stats=True)
    w = {"w": torch.tensor([[0.3, -0.7], [1.2, 0.4]])}
    a = full.batched_loss(w, {k: v.expand(2, *v.shape) for k, v in full.data.items()}).mean(-1)
    b = stats.batched_loss(w, {k: v.expand(2, *v.shape) for k, v in stats.data.items()}).mean(-1)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert stats.nbeta == pytest.approx(500 / np.log(500))

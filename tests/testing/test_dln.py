"""Aoyagi's deep-linear-network learning coefficient against independent known answers, and SGLD on it."""

import itertools

import pytest
import torch

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.testing.dln import DeepLinearNetwork, dln_llc, dln_subset
from patternlang.testing.toy_models import rrr_llc


def test_one_hidden_layer_is_reduced_rank_regression():
    """Aoyagi & Watanabe (2005) for every (M, H, N, r) up to 7: an independent derivation."""
    for M, H, N in itertools.product(range(1, 8), repeat=3):
        for r in range(min(M, H, N) + 1):
            assert dln_llc([M, H, N], r) == pytest.approx(rrr_llc(M, H, N, r)), (M, H, N, r)


@pytest.mark.parametrize("widths", [[3, 5], [7, 2], [1, 1]])
def test_one_layer_is_regular(widths):
    """No hidden layer: linear regression, λ = d/2 at every true rank."""
    for r in range(min(widths) + 1):
        assert dln_llc(widths, r) == widths[0] * widths[1] / 2


@pytest.mark.parametrize("widths", [[4, 2, 5], [3, 2, 2, 3], [6, 3, 4, 3, 5], [5, 5, 5, 5]])
def test_maximal_rank_is_regular(widths):
    """r = the narrowest width: locally the manifold of rank-r matrices, λ = r(H_1 + H_{N+1} - r)/2."""
    r = min(widths)
    assert dln_llc(widths, r) == r * (widths[0] + widths[-1] - r) / 2


def test_values_from_the_literature_setups():
    # widths of Lau et al.'s / the devinterp tests' DLN cases; values computed by hand from the theorem
    assert dln_llc([10, 20, 20, 10], 0) == 50.0        # Σ = {10, 10}: ℓ = 1, ½·10·10
    assert dln_llc([1, 2, 1], 0) == 0.5                # RRR (1, 2, 1): ½·1·1
    # an interior case with ℓ = 2: M = (4, 4, 5, 9); Σ = {4, 4, 5}, S = 13, m = 7, a = 1
    assert dln_llc([4, 4, 5, 9], 0) == pytest.approx(1 / 8 - 169 / 8 + 28)


def test_subset_is_the_unique_admissible_prefix():
    for widths in itertools.product(range(1, 6), repeat=4):
        for r in range(min(widths) + 1):
            M = [h - r for h in widths]
            admissible = []
            for size in range(2, len(M) + 1):
                for sub in itertools.combinations(range(len(M)), size):
                    ins, out = [M[i] for i in sub], [M[i] for i in range(len(M)) if i not in sub]
                    ell = size - 1
                    if (not out or max(ins) < min(out)) and sum(ins) >= ell * max(ins) and \
                            (not out or sum(ins) < ell * min(out)):
                        admissible.append(list(sub))
            assert admissible == [dln_subset(widths, r)], (widths, r)


def test_bad_widths_are_clear_errors():
    with pytest.raises(ValueError, match="rank"):
        dln_llc([3, 2, 3], 3)
    with pytest.raises(ValueError, match="widths"):
        dln_llc([3])


def test_dln_toy_center_is_a_minimum_of_rank_r():
    toy = DeepLinearNetwork([6, 5, 4, 6], rank=2, seed=1)
    c = toy.center()
    P = toy.product([c[f"w{i}"][None] for i in range(3)])[0]
    assert torch.linalg.matrix_rank(P) == 2
    params = {k: v[None].expand(2, -1, -1) for k, v in c.items()}
    batch = {k: v[None].expand(2, *v.shape) for k, v in toy.data.items()}
    assert toy.batched_loss(params, batch).tolist() == [[0.0], [0.0]]
    assert toy.num_params == 6 * 5 + 5 * 4 + 4 * 6
    assert float(toy.loss_fn(toy, toy.data).detach()) == 0.0


def test_sgld_recovers_the_dln_learning_coefficient():
    toy = DeepLinearNetwork([4, 3, 5, 4], rank=1, seed=0)  # λ = 6
    cfg = SGLDConfig(step_size=3e-5, gamma=10.0, nbeta=1000.0, num_chains=8, num_draws=4000, burnin=2000,
                     init_loss_batches=1, seed=0, check_every=100)
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center=toy.center())
    assert res.llc_se < 0.05 * toy.true_llc
    assert abs(res.llc_mean / toy.true_llc - 1) < 0.15


def test_orthogonal_center_has_unit_singular_values_and_the_same_lambda():
    gauss = DeepLinearNetwork([6, 5, 4, 6], rank=2, seed=1)
    toy = DeepLinearNetwork([6, 5, 4, 6], rank=2, seed=1, center="orthogonal")
    assert toy.true_llc == gauss.true_llc
    c = toy.center()
    for i in range(3):
        s = torch.linalg.svdvals(c[f"w{i}"])
        expected = torch.ones(2) if i == 0 else torch.ones(len(s))  # the first factor has rank r
        torch.testing.assert_close(s[: len(expected)], expected, atol=1e-5, rtol=0)
    P = toy.product([c[f"w{i}"][None] for i in range(3)])[0]
    assert torch.linalg.matrix_rank(P) == 2
    # equal widths (the bench's case): the true map itself has r unit singular values
    sq = DeepLinearNetwork([6, 6, 6, 6], rank=2, seed=1, center="orthogonal")
    Psq = sq.product([v[None] for v in sq.center().values()])[0]
    torch.testing.assert_close(torch.linalg.svdvals(Psq)[:3], torch.tensor([1.0, 1.0, 0.0]), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="center"):
        DeepLinearNetwork([3, 3], 1, center="uniform")

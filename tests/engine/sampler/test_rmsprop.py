"""RMSProp-preconditioned SGLD: known answers as for plain SGLD, every batching mode, restriction."""

import numpy as np
import pytest
import torch

from patternlang.engine.sampler.rmsprop import RMSPropUpdate
from patternlang.engine.sampler.sgld import SGLDConfig, SamplerConfigError, run_sgld
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import model_loss_fn
from patternlang.testing.toy_models import GaussianToy, NormalCrossing, ReducedRankRegression, normal_crossing_exact


def _close(res, target, bias=0.03):
    assert res.llc_se < 0.1 * target
    assert abs(res.llc_mean - target) < 3 * res.llc_se + bias * target


def test_config_validates_the_preconditioner():
    with pytest.raises(SamplerConfigError, match="preconditioner"):
        SGLDConfig(step_size=1e-3, gamma=1.0, preconditioner="adam")
    with pytest.raises(SamplerConfigError, match="rmsprop_alpha"):
        SGLDConfig(step_size=1e-3, gamma=1.0, preconditioner="rmsprop", rmsprop_alpha=1.0)


def test_gaussian_closed_form_with_anisotropic_curvature():
    """Curvatures spanning 400x: G differs across coordinates, the stationary law must not."""
    toy = GaussianToy([0.05, 1.0, 20.0])
    cfg = SGLDConfig(step_size=1e-4, gamma=5.0, nbeta=200.0, num_chains=8, num_draws=3000, burnin=1000,
                     preconditioner="rmsprop")
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
    _close(res, toy.expected_llc(200.0, 5.0))


def test_preconditioner_has_mean_one_and_damps_stiff_coordinates():
    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, preconditioner="rmsprop")
    up = RMSPropUpdate(cfg, 1.0, torch.zeros(3), None, [torch.Generator()], 1)
    assert torch.equal(up.preconditioner(torch.zeros(1, 3)), torch.ones(1, 3))  # exact minimum: plain SGLD
    G = up.preconditioner(torch.tensor([[0.1, 1.0, 10.0]]))
    assert float(G.mean()) == pytest.approx(1.0) and G[0, 0] > G[0, 1] > G[0, 2]


def test_normal_crossing_exact_finite_nbeta():
    toy = NormalCrossing([1, 1])
    cfg = SGLDConfig(step_size=1e-4, gamma=1.0, num_chains=8, num_draws=4000, burnin=1000,
                     init_loss_batches=1, seed=1, preconditioner="rmsprop")
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
    exact = normal_crossing_exact(toy, res.nbeta, 1.0)
    assert res.llc_se < 0.15 * exact
    assert abs(res.llc_mean - exact) < 3 * res.llc_se + 0.05 * exact


def test_rrr_known_answer():
    """Same bounds as plain SGLD's (5, 3, 5) case in test_known_answers."""
    toy = ReducedRankRegression(5, 3, 5, sufficient_stats=True)
    cfg = SGLDConfig(step_size=2e-4, gamma=1.0, nbeta=toy.nbeta, num_chains=4, num_draws=3000, burnin=3000,
                     init_loss_batches=1, seed=1, check_every=100, preconditioner="rmsprop")
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center=toy.fit_center(seed=42))
    assert res.llc_se < 0.05 * toy.true_llc
    assert -0.06 < res.llc_mean / toy.true_llc - 1 < 0.16


def test_every_batching_mode_gives_the_same_chains():
    model = AttnOnlyTransformer(vocab=16, d_model=8, n_layers=2, n_heads=2, d_head=4, context=8, seed=0)
    data = torch.randint(0, 16, (64, 8), generator=torch.Generator().manual_seed(0))

    def batch_fn(chain, step, g):
        return {"tokens": data[torch.randint(0, 64, (4,), generator=g)]}

    base = dict(step_size=1e-3, gamma=10.0, num_chains=3, num_draws=15, burnin=5, preconditioner="rmsprop")
    ref = run_sgld(model, model_loss_fn("lm"), batch_fn, SGLDConfig(**base, batching="vmap"))
    plain = run_sgld(model, model_loss_fn("lm"), batch_fn, SGLDConfig(**{**base, "preconditioner": "none"},
                                                                        batching="vmap"))
    assert not np.allclose(ref.loss_trace, plain.loss_trace)  # the preconditioner changes the chains
    for mode in ("auto", "batched", "loop"):
        b = run_sgld(model, model_loss_fn("lm"), batch_fn, SGLDConfig(**base, batching=mode))
        np.testing.assert_allclose(ref.loss_trace, b.loss_trace, rtol=1e-5)
    again = run_sgld(model, model_loss_fn("lm"), batch_fn, SGLDConfig(**base, batching="vmap"))
    assert np.array_equal(ref.loss_trace, again.loss_trace)


def test_restriction_freezes_the_rest_exactly():
    toy = GaussianToy([1.0, 2.0, 3.0])
    final = {}
    cfg = SGLDConfig(step_size=1e-2, gamma=1.0, nbeta=10.0, num_chains=2, num_draws=10, burnin=5, restrict=("w",),
                     preconditioner="rmsprop")
    run_sgld(toy, toy.loss_fn, toy.batch_fn, cfg, observer=lambda p: final.update(w=p["w"].clone()))
    assert (final["w"] != 0).all()


def test_preconditioner_adapts_in_burnin_and_is_frozen_after():
    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, burnin=3, preconditioner="rmsprop")
    up = RMSPropUpdate(cfg, 1.0, torch.zeros(2), None, [torch.Generator().manual_seed(0)], 1)
    seen = []
    for t in range(6):
        up(torch.zeros(1, 2), torch.tensor([[1.0 + t, 10.0]]))
        seen.append(up.G.clone())
    assert not torch.equal(seen[0], seen[2]) and all(torch.equal(seen[2], g) for g in seen[3:])

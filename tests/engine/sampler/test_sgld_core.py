"""Config validation, determinism, chain independence, subsets/concat, observer, restriction, divergence."""

import json

import numpy as np
import pytest
import torch

from patternlang.engine.sampler.diagnostics import split_rhat, trend_test
from patternlang.engine.sampler.llc import calibrate_step_size
from patternlang.engine.sampler.restrict import RestrictionError, restriction_mask, ParamLayout
from patternlang.engine.sampler.sgld import SGLDConfig, SGLDResult, SamplerConfigError, run_sgld
from patternlang.testing.toy_models import GaussianToy, ReducedRankRegression
from patternlang.errors import DivergenceError, PatError
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import model_loss_fn


def tiny_lm():
    model = AttnOnlyTransformer(vocab=16, d_model=8, n_layers=2, n_heads=2, d_head=4, context=8, seed=0)
    data = torch.randint(0, 16, (64, 8), generator=torch.Generator().manual_seed(0))

    def batch_fn(chain, step, g):
        return {"tokens": data[torch.randint(0, 64, (4,), generator=g)]}

    return model, model_loss_fn("lm"), batch_fn


def test_gamma_is_required():
    with pytest.raises(SamplerConfigError, match="gamma"):
        SGLDConfig(step_size=1e-3)
    with pytest.raises(PatError):
        SGLDConfig(step_size=-1.0, gamma=1.0)
    with pytest.raises(SamplerConfigError):
        SGLDConfig(step_size=1e-3, gamma=1.0, batching="threads")


def test_auto_batching_runs_big_models_chain_by_chain_on_cpu():
    big = AttnOnlyTransformer(vocab=512, d_model=64, n_layers=1, n_heads=2, d_head=8, context=8)
    assert sum(p.numel() for p in big.parameters()) >= 1 << 16
    res = run_sgld(big, model_loss_fn("lm"), lambda c, s, g: {"tokens": torch.zeros(2, 8, dtype=torch.long)},
                   SGLDConfig(step_size=1e-6, gamma=1.0, num_chains=2, num_draws=1, init_loss_batches=1))
    assert res.extra["batching"] == "loop (native)"  # auto on a CPU at this size: chain by chain


def test_default_nbeta_is_b_over_log_b():
    model, loss_fn, batch_fn = tiny_lm()
    res = run_sgld(model, loss_fn, batch_fn, SGLDConfig(step_size=1e-4, gamma=10.0, num_chains=1, num_draws=2))
    assert res.nbeta == pytest.approx(4 / np.log(4))


@pytest.mark.parametrize("batching", ["auto", "vmap", "loop"])
def test_rerun_bit_identical_and_chain_independent(batching):
    model, loss_fn, batch_fn = tiny_lm()
    cfg = SGLDConfig(step_size=1e-3, gamma=10.0, num_chains=4, num_draws=20, burnin=5, thin=2, batching=batching)
    a = run_sgld(model, loss_fn, batch_fn, cfg)
    b = run_sgld(model, loss_fn, batch_fn, cfg)
    assert np.array_equal(a.loss_trace, b.loss_trace) and np.array_equal(a.llc_per_chain, b.llc_per_chain)
    sub = run_sgld(model, loss_fn, batch_fn, cfg, chain_ids=[2])
    np.testing.assert_allclose(sub.loss_trace[0], a.loss_trace[2], rtol=1e-5)
    pair = run_sgld(model, loss_fn, batch_fn, cfg, chain_ids=[0, 1])
    rest = run_sgld(model, loss_fn, batch_fn, cfg, chain_ids=[2, 3], init_loss=pair.init_loss)
    joined = SGLDResult.concat([pair, rest])
    assert joined.chain_ids == [0, 1, 2, 3]
    np.testing.assert_allclose(joined.llc_per_chain, a.llc_per_chain, rtol=1e-4)
    json.dumps(joined.to_dict())


def test_native_vmap_and_loop_agree():
    """The native chain-batched forward (auto), vmap of forward, and the chain loop: same chains."""
    model, loss_fn, batch_fn = tiny_lm()
    cfg = SGLDConfig(step_size=1e-3, gamma=10.0, num_chains=3, num_draws=15, batching="vmap")
    a = run_sgld(model, loss_fn, batch_fn, cfg)
    assert a.extra["batching"] == "vmap (loss_fn)"
    for mode, used in (("auto", "batched (native)"), ("batched", "batched (native)"), ("loop", "loop (native)")):
        b = run_sgld(model, loss_fn, batch_fn, SGLDConfig(**{**cfg.__dict__, "batching": mode}))
        assert b.extra["batching"] == used
        np.testing.assert_allclose(a.loss_trace, b.loss_trace, rtol=1e-5)


def _reference_logits(model, tokens):
    """The attention-only LM written out head by head (independent of attn_only_forward)."""
    T = tokens.shape[-1]
    x = model.embed.W_E[tokens] + model.pos_embed.W_pos[:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for block in model.blocks:
        a, out = block.attn, torch.zeros_like(x) + block.attn.b_O
        for h in range(model.n_heads):
            q, k, v = (x @ W[h] + b[h] for W, b in ((a.W_Q, a.b_Q), (a.W_K, a.b_K), (a.W_V, a.b_V)))
            s = (q @ k.transpose(-1, -2) / model.d_head ** 0.5).masked_fill(~causal, float("-inf"))
            out = out + s.softmax(-1) @ v @ a.W_O[h]
        x = x + out
    return x @ model.unembed.W_U + model.unembed.b_U


def test_attn_only_forward_matches_reference_and_is_chain_batched():
    model = AttnOnlyTransformer(vocab=16, d_model=8, n_layers=2, n_heads=2, d_head=4, context=8, seed=0)
    tokens = torch.randint(0, 16, (3, 5, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = torch.stack([_reference_logits(model, t) for t in tokens])
        torch.testing.assert_close(model(tokens[0]), ref[0], rtol=1e-5, atol=1e-5)
        logits, pattern = model(tokens[0], return_attention=True)
        torch.testing.assert_close(logits, ref[0], rtol=1e-5, atol=1e-5)
        assert pattern.shape == (2, 5, 2, 8, 8) and torch.allclose(pattern.sum(-1), torch.ones(()))
        params = {n: p.detach()[None].repeat(3, *[1] * p.dim()) for n, p in model.named_parameters()}
        params["unembed.b_U"][1] += 1.0  # chain 1 differs: only its logits move
        out = model.chain_batched_forward(params, tokens)
        torch.testing.assert_close(out[[0, 2]], ref[[0, 2]], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out[1], ref[1] + 1.0, rtol=1e-5, atol=1e-5)


def test_weights_change_the_loss():
    model, loss_fn, _ = tiny_lm()
    data = torch.randint(0, 16, (4, 8), generator=torch.Generator().manual_seed(1))
    plain = {"tokens": data}
    weighted = {"tokens": data, "weight": torch.tensor([1.0, 0.0, 0.0, 0.0])}
    only_first = {"tokens": data[:1]}
    cfg = SGLDConfig(step_size=1e-4, gamma=1.0, num_chains=1, num_draws=1, init_loss_batches=1)
    L = {k: run_sgld(model, loss_fn, lambda c, s, g, b=b: b, cfg).init_loss
         for k, b in [("plain", plain), ("w", weighted), ("first", only_first)]}
    assert L["w"] == pytest.approx(L["first"], rel=1e-5) and L["w"] != pytest.approx(L["plain"], rel=1e-3)


def test_observer_sees_stacked_params_at_each_draw():
    model, loss_fn, batch_fn = tiny_lm()
    seen = []

    class Obs:
        def __call__(self, params):
            seen.append(params["blocks.0.attn.W_Q"].shape)
            assert not torch.is_grad_enabled()
            return {"norm": params["unembed.W_U"].flatten(1).norm(dim=1)}

        def finalize(self):
            return {"calls": len(seen)}

    cfg = SGLDConfig(step_size=1e-3, gamma=10.0, num_chains=3, num_draws=6, burnin=4, thin=3)
    res = run_sgld(model, loss_fn, batch_fn, cfg, observer=Obs())
    assert res.observations == {"calls": 6} and seen[0] == (3, 2, 8, 4)
    kept = run_sgld(model, loss_fn, batch_fn, SGLDConfig(**{**cfg.__dict__, "keep_observations": True}),
                    observer=lambda p: {"n": p["unembed.b_U"].sum(1)})
    assert kept.observations["n"].shape == (3, 6)


def test_restriction_freezes_the_rest_exactly():
    model, loss_fn, batch_fn = tiny_lm()
    final = {}

    def obs(params):
        final.update({k: v.clone() for k, v in params.items()})

    cfg = SGLDConfig(step_size=1e-2, gamma=1.0, num_chains=2, num_draws=10, restrict=("l1h0",))
    run_sgld(model, loss_fn, batch_fn, cfg, observer=obs)
    for name, p in model.named_parameters():
        moved = (final[name] != p.detach()[None]).flatten(2).any(-1) if p.dim() > 1 else None
        if name.startswith("blocks.1.attn.") and name != "blocks.1.attn.b_O":
            assert (final[name][:, 0] != p.detach()[0]).any() and torch.equal(final[name][:, 1], p.detach()[1].expand_as(final[name][:, 1]))
        else:
            assert torch.equal(final[name], p.detach().expand_as(final[name])), name
        del moved


def test_restricted_sampling_differentiates_only_the_restriction_same_numbers():
    """A restricted native run takes gradients of the restricted parameters alone (no backward into
    frozen layers); its chains equal the vmap route's, which differentiates everything."""
    from patternlang.engine.sampler.chain_loss import ChainLoss
    from patternlang.engine.sampler.restrict import restriction_index, touched_names

    model, loss_fn, batch_fn = tiny_lm()
    layout = ParamLayout.from_model(model)
    index = restriction_index(model, layout, ["l1h0"])
    names = touched_names(layout, index)
    assert names == tuple(f"blocks.1.attn.{n}" for n in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V"))
    full = ChainLoss(model, loss_fn, layout, "batched")
    part = ChainLoss(model, loss_fn, layout, "batched", trainable=names)
    flat = layout.flatten(dict(model.named_parameters()))[None].repeat(2, 1)
    batch = batch_fn(0, 0, torch.Generator().manual_seed(0))
    (la, ga), (lb, gb) = full.value_and_grad(flat, batch, True), part.value_and_grad(flat, batch, True)
    torch.testing.assert_close(la, lb)
    torch.testing.assert_close(ga[:, index], gb[:, index])
    for name in layout.names:  # no gradient at all for parameters outside the restriction
        assert (gb[:, layout.slice_of(name)].abs().sum() > 0) == (name in names), name
    cfg = SGLDConfig(step_size=1e-2, gamma=1.0, num_chains=2, num_draws=10, restrict=("l1h0",))
    a = run_sgld(model, loss_fn, batch_fn, SGLDConfig(**{**cfg.__dict__, "batching": "vmap"}))
    b = run_sgld(model, loss_fn, batch_fn, cfg)
    np.testing.assert_allclose(a.loss_trace, b.loss_trace, rtol=1e-5)


def test_restriction_selectors():
    model = tiny_lm()[0]
    layout = ParamLayout.from_model(model)
    assert restriction_mask(model, layout, ["blocks.1.*"]).sum() == sum(
        p.numel() for n, p in model.named_parameters() if n.startswith("blocks.1."))
    assert restriction_mask(model, layout, ["l1h*"]).sum() == restriction_mask(model, layout, ["l1h0", "l1h1"]).sum()
    for bad in (["nothing.*"], ["l5h0"]):
        with pytest.raises(RestrictionError):
            restriction_mask(model, layout, bad)


def test_divergence_names_chain_and_keeps_the_others():
    toy = GaussianToy([1.0, 1.0])
    fast = toy.batched_loss
    # chain 1 gets a batch whose per-sample weights blow its loss up -> only chain 1 diverges
    def batch_fn(chain, step, g):
        return {"x": torch.zeros(1, 1), "weight": torch.ones(1)} if chain != 1 or step < 30 else \
            {"x": torch.zeros(1, 1), "weight": torch.tensor([float("nan")])}
    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, nbeta=10.0, num_chains=3, num_draws=60, check_every=7)
    res = run_sgld(toy, fast, batch_fn, cfg)
    d = res.diagnostics.divergences
    assert [(x.chain, x.step) for x in d] == [(1, 30)]
    assert not res.alive[1] and np.isnan(res.llc_per_chain[1]) and np.isfinite(res.llc_mean)
    assert res.diagnostics.flagged and "smaller step_size" in res.diagnostics.remedy
    huge = SGLDConfig(step_size=10.0, gamma=1.0, nbeta=1e4, num_chains=2, num_draws=50)
    with pytest.raises(DivergenceError) as err:
        run_sgld(toy, fast, toy.batch_fn, huge)
    assert "chain 0 diverged at step" in str(err.value)


def test_calibration_picks_a_stable_step():
    toy = GaussianToy([1.0, 4.0])
    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, nbeta=100.0, num_chains=2, num_draws=10)
    cal = calibrate_step_size(toy, toy.batched_loss, toy.batch_fn, cfg, step_sizes=[1e-4, 1e-3, 3e-3, 0.1], steps=100)
    assert cal.suggested == 3e-3 and not cal.rows[-1]["stable"]


def test_rhat_and_trend_detect_problems():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 400))
    assert split_rhat(good) < 1.05 and trend_test(good).equilibrated
    shifted = good + np.arange(4)[:, None]
    assert split_rhat(shifted) > 1.5
    drifting = good + np.linspace(0, 5, 400)
    assert not trend_test(drifting).equilibrated


def test_rrr_vmap_path_matches_batched_path():
    toy = ReducedRankRegression(3, 2, 3, n=50)
    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, num_chains=2, num_draws=20)
    a = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg)
    b = run_sgld(toy, toy.loss_fn, toy.batch_fn, cfg)
    np.testing.assert_allclose(a.loss_trace, b.loss_trace, rtol=1e-4)

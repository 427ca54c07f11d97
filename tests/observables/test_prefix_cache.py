"""Frozen-prefix caching of the observation passes: bit-identical to the uncached pass, used only
when the leading stages really hold the center's values, computed once per probe."""

import numpy as np
import pytest
import torch

from .obs_helpers import UniformTokens

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import model_loss_fn
from patternlang.observables import build_observer
from patternlang.observables.attention import stacked_params
from patternlang.observables.prefix_cache import FrozenPrefix
from patternlang.plan.ir import ObsExpr, ObservableSpec

VOCAB, CTX = 32, 24


def spec(name, prim, **args):
    return ObservableSpec(name=name, expr=ObsExpr(op="prim", name=prim, args=args))


SPECS = [spec("la", "loss", component="a"), spec("llc", "llc"),
         spec("t5", "token_loss", component="b", position=5),
         spec("ih", "induction_score", layer=1, period=8), spec("pt", "previous_token_score", layer=0)]


class Staged(AttnOnlyTransformer):
    """Counts prefix computations and uncached chain-batched passes."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.prefixes = self.full_passes = 0

    def chain_batched_prefix(self, *a, **k):
        self.prefixes += 1
        return super().chain_batched_prefix(*a, **k)

    def chain_batched_forward(self, *a, **k):
        self.full_passes += 1
        return super().chain_batched_forward(*a, **k)


def components():
    return {"a": UniformTokens("a", VOCAB, CTX), "b": UniformTokens("b", VOCAB // 2, CTX)}


def model():
    return Staged(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)


def moved(m, chains, prefixes, seed=0, scale=0.05, heads=()):
    """Stacked parameters: the center's, plus noise on the names starting with one of ``prefixes``
    and on the slices of the heads ``(layer, head)`` in ``heads``."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in m.named_parameters():
        p = v.detach()[None].expand(chains, *v.shape).clone()
        if k.startswith(prefixes):
            p += scale * torch.randn(p.shape, generator=g)
        out[k] = p
    for layer, head in heads:
        for k, index in m.head_parameters(layer, head).items():
            view = out[k][(slice(None), *index)]
            view += scale * torch.randn(view.shape, generator=g)
    return out


def observe(m, params_per_draw, cache="heads"):
    obs = build_observer(m, SPECS, components(), {"a": 0.6, "b": 0.4}, probe=6, seed=3, nbeta=25.0)
    if cache != "heads":
        obs.ctx._prefix = FrozenPrefix(m, heads=False) if cache == "layers" else None
    return [obs.evaluate(p) for p in params_per_draw]


MOVING = {"l1h0": dict(prefixes=(), heads=((1, 0),)), "l1h0+l1h3": dict(prefixes=(), heads=((1, 0), (1, 3))),
          "l0h2": dict(prefixes=(), heads=((0, 2),)), "layer 1": dict(prefixes=("blocks.1.",)),
          "b_O of layer 0": dict(prefixes=("blocks.0.attn.b_O",)), "embeddings": dict(prefixes=("embed.",))}


@pytest.mark.parametrize("moving", list(MOVING))
def test_layer_cache_is_bit_identical(moving):
    """Every observable (losses, llc, a token loss, attention scores of both layers) bit-equal to
    the uncached pass, whichever stage moves first."""
    m = model()
    draws = [moved(m, 3, seed=s, **MOVING[moving]) for s in range(3)]
    for a, b in zip(observe(m, draws, "layers"), observe(m, draws, "none")):
        for u, v in zip(a, b):
            assert torch.equal(u, v)


@pytest.mark.parametrize("moving", list(MOVING))
def test_head_cache_equals_the_uncached_pass_within_reassociation(moving):
    """With the frozen heads cached too (the default) the values are the uncached ones summed in
    another order: equal to float32 rounding, not bit for bit — relative 1e-5 on losses and scores;
    the llc, nβ·(L − L*) with nβ = 25, carries nβ times the rounding of L (~2e-7): absolute 1e-5."""
    m = model()
    draws = [moved(m, 3, seed=s, **MOVING[moving]) for s in range(3)]
    for a, b in zip(observe(m, draws), observe(m, draws, "none")):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-5, atol=1e-5)


def test_head_delta_runs_only_the_moving_heads():
    m = model()
    prefix = FrozenPrefix(m)
    prefix.set_params(moved(m, 2, (), heads=((1, 0), (1, 3))))
    assert prefix._draw[1:] == (2, [0, 3])
    prefix.set_params(moved(m, 2, ("unembed.",), heads=((1, 1),)))  # readout moves: no base logits
    assert prefix._draw[1:] == (2, [1])
    tokens = torch.randint(0, VOCAB, (4, CTX))
    logits, _ = prefix.run("a", tokens, attention=False)
    want = m.chain_batched_forward(prefix._draw[0], tokens[None].expand(2, 4, CTX))
    np.testing.assert_allclose(logits.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    prefix.set_params(moved(m, 2, ("blocks.1.attn.b_O",), heads=((1, 1),)))  # b_O moves: layer path
    assert prefix._draw[1:] == (2, None)


def test_depth_counts_the_frozen_leading_stages():
    m = model()
    prefix = FrozenPrefix(m)
    full = lambda p: stacked_params(m, p)  # noqa: E731
    assert prefix.depth(full(moved(m, 2, ()))) == 3
    assert prefix.depth(full(moved(m, 2, ("blocks.1.attn.b_O",)))) == 2
    assert prefix.depth(full(moved(m, 2, ("blocks.0.",)))) == 1
    assert prefix.depth(full(moved(m, 2, ("pos_embed.",)))) == 0
    one_chain = moved(m, 2, ())
    one_chain["blocks.0.attn.W_K"][1, 2, 0, 0] += 1e-6  # one coordinate of one chain
    assert prefix.depth(full(one_chain)) == 1


def test_prefix_runs_once_per_probe_and_full_sampling_skips_the_cache():
    m = model()
    observe(m, [moved(m, 2, (), heads=((1, 2),), seed=s) for s in range(4)])
    probes = 3  # components a, b and the repeated-tokens probe of the induction score
    assert m.prefixes <= 2 * probes  # once per probe (and attention need), not once per draw
    assert m.full_passes == 0
    m = model()
    observe(m, [moved(m, 2, ("embed.",), seed=s) for s in range(4)])
    assert m.prefixes == 0 and m.full_passes > 0


def test_over_budget_probes_run_uncached():
    m = model()
    prefix = FrozenPrefix(m, max_bytes=0)
    prefix.set_params(moved(m, 2, ("blocks.1.",)))
    assert prefix.run("a", torch.randint(0, VOCAB, (4, CTX)), attention=False) is None


def test_restricted_sampling_chi_with_the_cache():
    """End to end, a head-restricted SGLD run: χ bit-identical with the layer cache, equal within
    float reassociation (relative 1e-4 of χ, far below its SE) with the head cache (the default)."""
    chis = {}
    for cache in ("none", "layers", "heads"):
        m = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
        comps = components()
        obs = build_observer(m, SPECS[:2], comps, {"a": 0.6, "b": 0.4}, probe=6, seed=3, nbeta=25.0)
        if cache != "heads":
            obs.ctx._prefix = FrozenPrefix(m, heads=False) if cache == "layers" else None
        cfg = SGLDConfig(step_size=1e-3, gamma=100.0, nbeta=25.0, num_chains=2, num_draws=12,
                         restrict=("l1h0",))
        run_sgld(m, model_loss_fn("lm"), lambda c, t, g: comps["a"].sample(4, g), cfg, observer=obs)
        chis[cache] = obs.chi()
    assert np.array_equal(chis["none"].chi, chis["layers"].chi)
    assert np.array_equal(chis["none"].se, chis["layers"].se)
    np.testing.assert_allclose(chis["heads"].chi, chis["none"].chi, rtol=1e-4)
    assert np.all(np.abs(chis["heads"].chi - chis["none"].chi) < 1e-3 * chis["none"].se)
    assert np.abs(chis["none"].chi).max() > 0


def test_models_whose_stages_name_unknown_parameters_are_not_cached():
    class Renamed(AttnOnlyTransformer):
        def prefix_stages(self):
            return [("_orig_mod.embed.W_E",)] + super().prefix_stages()[1:]

    assert FrozenPrefix.for_model(Renamed(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX)) is None
    assert FrozenPrefix.for_model(model()) is not None

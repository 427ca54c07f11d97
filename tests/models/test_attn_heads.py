"""Head-split passes: the same logits and gradients as the ordinary pass within float32
reassociation, gradients only for the moving heads, and the sampler's choice of the route."""

import numpy as np
import pytest
import torch

from patternlang.engine.sampler.restrict import ParamLayout, head_restriction, restriction_index
from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import model_loss_fn

VOCAB, CTX = 48, 16


def stacked(model, chains=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: v.detach()[None] + 0.02 * torch.randn((chains, *v.shape), generator=g)
            for k, v in model.named_parameters()}


@pytest.mark.parametrize("final_ln", [False, True])
@pytest.mark.parametrize("layer,heads,readout", [(1, [0], False), (1, [0, 2], False), (0, [3], False),
                                                 (1, [1], True)])
def test_head_split_forward_equals_the_ordinary_pass(layer, heads, readout, final_ln):
    """Logits within float32 reassociation (relative 1e-5) of chain_batched_forward, and the
    gradients of the moving heads' slices (and of a moving readout) within 1e-4; no other gradient."""
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, final_ln=final_ln)
    params = stacked(model)
    tokens = torch.randint(0, VOCAB, (2, 3, CTX), generator=torch.Generator().manual_seed(1))
    moving = [n for n in model.head_parameters(layer, heads[0])] + (list(model.readout_parameters()) if readout else [])
    grads = []
    for split in (True, False):
        leaves = {k: v.clone().requires_grad_(k in moving) for k, v in params.items()}
        out = (model.chain_batched_head_forward(leaves, tokens, layer, heads) if split
               else model.chain_batched_forward(leaves, tokens))
        loss = torch.nn.functional.log_softmax(out, -1)[..., 0].sum()
        grads.append((out.detach(), dict(zip(moving, torch.autograd.grad(loss, [leaves[n] for n in moving])))))
    (a, ga), (b, gb) = grads
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for name in moving:
        if name in model.head_parameters(layer, heads[0]):
            sel = (slice(None), heads)
            torch.testing.assert_close(ga[name][sel], gb[name][sel], rtol=1e-4, atol=1e-6)
            rest = [h for h in range(4) if h not in heads]
            assert ga[name][:, rest].abs().sum() == 0  # frozen heads: no gradient computed
        else:
            torch.testing.assert_close(ga[name], gb[name], rtol=1e-4, atol=1e-6)


def test_head_restriction_finds_the_moving_heads_of_one_layer():
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX)
    layout = ParamLayout.from_model(model)

    def of(*selectors):
        return head_restriction(model, layout, restriction_index(model, layout, list(selectors)))

    assert of("l1h0") == (1, [0])
    assert of("l1h0", "l1h3") == (1, [0, 3])
    assert of("l0h2") == (0, [2])
    assert of("l1h*") is None  # every head moves: nothing to split
    assert of("l1h0", "l0h1") is None  # two layers
    assert of("l1h0", "unembed.*") is None and of("blocks.1.attn.b_O") is None
    assert head_restriction(model, layout, None) is None


def test_head_restricted_sampling_uses_the_split_and_matches_the_vmap_route():
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX)

    def batch_fn(c, t, g):
        return {"tokens": torch.randint(0, VOCAB, (4, CTX), generator=g)}

    cfg = SGLDConfig(step_size=1e-3, gamma=10.0, nbeta=20.0, num_chains=2, num_draws=15, restrict=("l1h0",))
    split = run_sgld(model, model_loss_fn("lm"), batch_fn, cfg)
    plain = run_sgld(model, model_loss_fn("lm"), batch_fn, SGLDConfig(**{**cfg.__dict__, "batching": "vmap"}))
    assert "heads l1[0]" in split.extra["batching"]
    np.testing.assert_allclose(split.loss_trace, plain.loss_trace, rtol=1e-5)
    np.testing.assert_allclose(split.llc_per_chain, plain.llc_per_chain, rtol=1e-3, atol=1e-4)

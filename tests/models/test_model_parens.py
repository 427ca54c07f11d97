"""The parentheses classifier: shapes, padding, attention capture, head slices, vmap safety."""

import pytest
import torch
from torch.func import functional_call, stack_module_state, vmap

from patternlang import registry
from patternlang.data.parens import parens
from patternlang.models.parens import ParensTransformer, parens_transformer


def _batch(n=6):
    return parens(2, 8, 0, "any", 1, 10).sample(n, torch.Generator().manual_seed(0))


def test_logits_attention_and_padding():
    m = parens_transformer(layers=2, heads=2, d_model=16, context=10, mlp=16, seed=1)
    b = _batch()
    logits, attn = m(b["tokens"], return_attention=True)
    assert logits.shape == (6, 2) and attn.shape == (2, 6, 2, 10, 10)
    assert torch.equal(logits, m(b["tokens"]))
    pad_keys = ~b["mask"][None, :, None, None, :].expand_as(attn)
    assert attn[pad_keys].abs().max() == 0  # padding is never attended to
    assert torch.allclose(attn.sum(-1), torch.ones_like(attn.sum(-1)))


def test_extra_padding_does_not_change_logits():
    m = ParensTransformer(d_model=16, n_layers=1, n_heads=2, d_mlp=8, context=12, seed=0)
    tokens = torch.tensor([[3, 1, 1, 2, 2, 0, 0]])
    longer = torch.cat([tokens, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    assert torch.allclose(m(tokens), m(longer), atol=1e-6)


def test_head_parameters_and_registration():
    m = ParensTransformer(n_layers=2, n_heads=4)
    hp = m.head_parameters(1, 3)
    params = dict(m.named_parameters())
    assert set(hp) <= set(params) and hp["blocks.1.attn.W_Q"] == (3,)
    with pytest.raises(ValueError, match="no head"):
        m.head_parameters(2, 0)
    prim = registry.get("model", "parens_transformer")
    assert prim.meta["task"] == "classify" and {p.name for p in prim.params} >= {
        "layers", "heads", "d_model", "context", "mlp", "seed"}


def test_vmap_over_stacked_parameters_matches_loop():
    models = [ParensTransformer(d_model=16, n_layers=1, n_heads=2, d_mlp=8, context=10, seed=s)
              for s in range(3)]
    params, buffers = stack_module_state(models)
    tokens = _batch(4)["tokens"]

    def run(p, b):
        return functional_call(models[0], (p, b), (tokens,))

    out = vmap(run)(params, buffers)
    for i, m in enumerate(models):
        assert torch.allclose(out[i], m(tokens), atol=1e-5)

"""Attention adapters: stdlib model always; TransformerLens and Hugging Face when installed
(tiny randomly initialised models built here; no downloads)."""

import pytest
import torch
from .obs_helpers import UniformTokens

from patternlang.errors import PatRuntimeError
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.observables import build_observer
from patternlang.observables.attention import (AttentionModel, AttnOnlyAdapter, LogitsOnlyAdapter,
                                               attention_adapter)
from patternlang.plan.ir import ObsExpr, ObservableSpec

SPECS = [ObservableSpec(name="ih", expr=ObsExpr(op="prim", name="induction_score",
                                                args={"layer": 1, "period": 6})),
         ObservableSpec(name="la", expr=ObsExpr(op="prim", name="loss", args={"component": "u"}))]


def check_observer(model, vocab, n_heads):
    obs = build_observer(model, SPECS, {"u": UniformTokens("u", vocab, 12)}, {"u": 1.0}, probe=4,
                         seed=0, nbeta=1.0)
    params = {k: v.detach()[None].repeat(2, *[1] * v.dim()) for k, v in model.named_parameters()}
    x, y, L = obs.evaluate(params)
    assert x.shape == (2, n_heads + 1) and torch.allclose(x[0], x[1], atol=1e-6)
    assert bool(((x[:, :n_heads] > 0) & (x[:, :n_heads] < 1)).all())
    return obs


def test_stdlib_adapter():
    m = AttnOnlyTransformer(vocab=20, d_model=16, n_layers=2, n_heads=4, context=16)
    a = attention_adapter(m)
    assert isinstance(a, AttnOnlyAdapter) and isinstance(a, AttentionModel) and a.vmappable
    pat = a.patterns(m, torch.randint(20, (3, 10)))
    assert pat.shape == (2, 3, 4, 10, 10)
    torch.testing.assert_close(pat.sum(-1), torch.ones(2, 3, 4, 10))
    check_observer(m, 20, 4)


def test_plain_module_has_no_attention():
    class Bag(torch.nn.Module):
        task = "lm"
        vocab = 10

        def __init__(self):
            super().__init__()
            self.e = torch.nn.Embedding(10, 10)

        def forward(self, tokens):
            return self.e(tokens)

    assert isinstance(attention_adapter(Bag()), LogitsOnlyAdapter)
    with pytest.raises(PatRuntimeError, match="exposes no attention"):
        build_observer(Bag(), SPECS, {"u": UniformTokens("u", 10, 12)}, {"u": 1.0}, probe=4,
                       seed=0, nbeta=1.0)


def test_transformer_lens_adapter():
    tl = pytest.importorskip("transformer_lens")
    cfg = tl.HookedTransformerConfig(n_layers=2, d_model=16, n_ctx=16, d_head=4, n_heads=4,
                                     d_vocab=20, attn_only=True, seed=0, device="cpu")
    m = tl.HookedTransformer(cfg).eval()
    tokens = torch.randint(20, (3, 10))
    pat = attention_adapter(m).patterns(m, tokens)
    _, cache = m.run_with_cache(tokens)
    assert pat.shape == (2, 3, 4, 10, 10)
    torch.testing.assert_close(pat[1], cache["blocks.1.attn.hook_pattern"])
    check_observer(m, 20, 4)


def test_hugging_face_adapter():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=20, n_positions=32,
                                  bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    torch.manual_seed(0)
    m = transformers.GPT2LMHeadModel(cfg).eval()
    tokens = torch.randint(20, (3, 10))
    pat = attention_adapter(m).patterns(m, tokens)
    assert pat.shape == (2, 3, 2, 10, 10)
    torch.testing.assert_close(pat.sum(-1), torch.ones(2, 3, 2, 10))
    assert float(pat[0, 0, 0].detach().triu(1).abs().max()) == 0.0  # causal
    check_observer(m, 20, 2)

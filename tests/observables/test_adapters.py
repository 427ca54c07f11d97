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


def _all_lm_observables() -> list[ObservableSpec]:
    def prim(name, **args):
        return ObservableSpec(name=name, expr=ObsExpr(op="prim", name=name, args=args))

    return [prim("loss", component="u"), prim("loss_increase", component="u"), prim("llc"),
            prim("free_energy", n=1000), prim("token_loss", component="u", position=5),
            prim("icl_score", component="u", early=2, late=10),
            prim("induction_score", layer=1, period=4), prim("previous_token_score", layer=0),
            prim("duplicate_token_score", layer=1, period=4)]


def test_every_lm_observable_agrees_on_a_hf_model_and_its_lens_conversion(tmp_path):
    """The same GPT-2 network seen through two adapters (transformers' eager attention with the
    HFCausalLM wrapper, TransformerLens' hook_pattern) gives the same value of every stdlib LM
    observable, at a point away from the center (so llc and loss_increase are not trivially 0)."""
    pytest.importorskip("transformers")
    pytest.importorskip("transformer_lens")
    from patternlang.models.hf import hf_causal_lm, hf_pretrained
    from patternlang.models.lens import lens_pretrained

    model = hf_causal_lm(arch="gpt2", layers=2, heads=2, d_model=16, context=16, vocab=20)
    model.hf.save_pretrained(tmp_path / "center")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    model.hf.save_pretrained(tmp_path / "moved")
    values = []
    for load in (hf_pretrained, lens_pretrained):
        center, moved = (load(str(tmp_path / d)).eval() for d in ("center", "moved"))
        obs = build_observer(center, _all_lm_observables(), {"u": UniformTokens("u", 20, 12)},
                             {"u": 1.0}, probe=4, seed=0, nbeta=10.0)
        x, _, _ = obs.evaluate({k: v.detach()[None] for k, v in moved.named_parameters()})
        values.append((obs.obs_names, x[0]))
    (names_hf, hf), (names_tl, tl) = values
    assert names_hf == names_tl and len(names_hf) == 6 + 3 * 2
    torch.testing.assert_close(hf, tl, atol=2e-5, rtol=1e-4)
    llc = hf[names_hf.index("llc")]
    assert llc.abs() > 1e-3  # a moved point: the comparison is not between zeros

"""The TransformerLens and Hugging Face model primitives (extras ``lens`` / ``hf``; skipped without).

Known answers: a head's ``head_parameters`` are exactly its own weights (perturbing them changes
that head's attention pattern and no other head's of the layer); a ``save_pretrained`` directory
reloads to the same logits; TransformerLens' conversion of a Hugging Face model computes the same
logits and attention as the Hugging Face model; pickled weights are refused.
"""

from __future__ import annotations

import pytest
import torch

from patternlang.engine.sampler.restrict import ParamLayout, restriction_mask
from patternlang.errors import PatRuntimeError
from patternlang.models.factory import build_model
from patternlang.observables.attention import attention_adapter
from patternlang.plan.ir import Call, ModelSpec

ARCHS = ["gpt2", "gpt_neox", "llama"]


def _hf(arch: str, **kw):
    from patternlang.models.hf import hf_causal_lm

    pytest.importorskip("transformers")
    return hf_causal_lm(arch=arch, layers=2, heads=2, d_model=16, context=16, vocab=20, **kw)


def _lens(**kw):
    from patternlang.models.lens import lens_transformer

    pytest.importorskip("transformer_lens")
    return lens_transformer(layers=2, heads=2, d_model=16, context=16, vocab=20, **kw)


def _assert_heads_own_their_weights(model) -> None:
    """Perturb head h's parameters: in its layer only head h's pattern moves."""
    tokens = torch.randint(20, (3, 12), generator=torch.Generator().manual_seed(0))
    adapter = attention_adapter(model)
    base = adapter.patterns(model, tokens).detach()
    layout = ParamLayout.from_model(model)
    for layer, head in [(0, 1), (1, 0)]:
        mask = restriction_mask(model, layout, [f"l{layer}h{head}"])
        assert 0 < int(mask.sum()) < layout.numel
        saved = {n: p.detach().clone() for n, p in model.named_parameters()}
        with torch.no_grad():
            for (name, p), part in zip(model.named_parameters(), mask.split(layout.sizes)):
                p.add_(torch.randn(p.shape) * part.view(p.shape))
        moved = (adapter.patterns(model, tokens).detach() - base).abs().amax(dim=(1, 3, 4))  # [L, H]
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(saved[name])
        assert moved[layer, head] > 1e-3, (layer, head, moved)
        others = [h for h in range(moved.shape[1]) if h != head]
        assert float(moved[layer, others].max()) < 1e-6, (layer, head, moved)
        if layer:
            assert float(moved[:layer].max()) < 1e-6  # earlier layers never move


def test_lens_transformer_contract_determinism_and_heads():
    m = _lens()
    assert type(m).__name__ == "LensLM" and m.task == "lm"
    assert (m.vocab, m.context, m.n_layers, m.n_heads) == (20, 16, 2, 2)
    assert type(attention_adapter(m)).__name__ == "LensAdapter"
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    again = _lens()
    assert torch.rand(1) == before  # the caller's random stream is untouched
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), again.parameters()))
    assert not torch.equal(_lens(seed=1).embed.W_E, m.embed.W_E)
    _assert_heads_own_their_weights(m)
    _assert_heads_own_their_weights(_lens(d_mlp=32, normalization="LN"))


def test_lens_transformer_rejects_unknown_choices():
    with pytest.raises(PatRuntimeError, match="normalization 'layer' is not one of"):
        _lens(normalization="layer")


@pytest.mark.parametrize("arch", ARCHS)
def test_hf_causal_lm_contract_and_heads(arch):
    m = _hf(arch)
    assert m.task == "lm" and (m.vocab, m.context, m.n_layers, m.n_heads) == (20, 16, 2, 2)
    logits, att = m(torch.randint(20, (3, 10)), return_attention=True)
    assert logits.shape == (3, 10, 20) and att.shape == (2, 3, 2, 10, 10)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 3, 2, 10))
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), _hf(arch).parameters()))
    _assert_heads_own_their_weights(m)


@pytest.mark.parametrize("arch", ARCHS)
def test_save_pretrained_reloads_and_converts_to_lens(arch, tmp_path):
    from patternlang.models.hf import hf_pretrained

    m = _hf(arch).eval()
    m.hf.save_pretrained(tmp_path)
    tokens = torch.randint(20, (3, 10))
    reloaded = hf_pretrained(str(tmp_path)).eval()
    torch.testing.assert_close(reloaded(tokens), m(tokens))
    pytest.importorskip("transformer_lens")
    from patternlang.models.lens import lens_pretrained

    lens = lens_pretrained(str(tmp_path)).eval()
    torch.testing.assert_close(lens(tokens), m(tokens), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attention_adapter(lens).patterns(lens, tokens),
                               attention_adapter(m).patterns(m, tokens), atol=1e-5, rtol=1e-5)


def test_pickled_weights_are_refused(tmp_path):
    from patternlang.models.hf import hf_pretrained

    m = _hf("gpt2")
    m.hf.config.save_pretrained(tmp_path)
    torch.save(m.hf.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(PatRuntimeError, match="never loaded"):
        hf_pretrained(str(tmp_path))
    with pytest.raises(PatRuntimeError, match="no config.json"):
        hf_pretrained(str(tmp_path / "missing"))


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(PatRuntimeError, match="unknown architecture 'gpt5'"):
        _hf("gpt5")


@pytest.mark.parametrize("primitive,args", [("lens_transformer", {}), ("hf_causal_lm", {})])
def test_patternlang_checkpoint_round_trip(primitive, args, tmp_path):
    from patternlang.models import checkpoint

    pytest.importorskip("transformer_lens" if primitive.startswith("lens") else "transformers")
    spec = ModelSpec(name="m", call=Call(primitive=primitive, args={"vocab": 20, "context": 16,
                                                                    "d_model": 16, "heads": 2}))
    model = build_model(spec)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    path = checkpoint.save(model, tmp_path / "m.safetensors", {"step": 1})
    again = build_model(ModelSpec(name="m", checkpoint=str(path)))  # architecture from the sidecar
    tokens = torch.randint(20, (2, 8))
    torch.testing.assert_close(again(tokens), model(tokens))


def test_missing_extra_names_the_install_command(monkeypatch):
    import sys

    from patternlang.models.hf import hf_causal_lm

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(PatRuntimeError, match=r"pip install 'patternlang\[hf\]'"):
        hf_causal_lm()

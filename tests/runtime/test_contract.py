"""The bring-your-own-model contract: checked when the train step builds the model, before any
training, one message per missing piece; the spec's folder is on the import path of factories."""

from __future__ import annotations

import textwrap

import torch
from torch import nn

from patternlang.compiler import compile_file
from patternlang.models import AttnOnlyTransformer
from patternlang.runtime.contract import Needs, contract_problems, model_int, plan_needs

from .test_run import ROOT, patc


class Bare(nn.Module):
    task = "lm"

    def forward(self, tokens):
        return torch.zeros(*tokens.shape, 8)


class WithAttention(Bare):
    """Hands out patterns of a chosen shape (and normalisation)."""

    def __init__(self, layers=1, heads=2, normalised=True, **attrs):
        super().__init__()
        self.layers, self.heads, self.normalised = layers, heads, normalised
        for k, v in attrs.items():
            setattr(self, k, v)

    def forward(self, tokens, return_attention=False):
        n, T = tokens.shape
        pat = torch.full((self.layers, n, self.heads, T, T), 1.0 / T if self.normalised else 1.0)
        return (super().forward(tokens), pat) if return_attention else super().forward(tokens)


def test_each_missing_piece_gets_its_own_message():
    problems = contract_problems(Bare(), Needs(attention=True, head_parameters=True))
    assert [p.split(":")[0] for p in problems] == ["vocab", "context", "head_parameters"]
    model = Bare()
    model.vocab, model.context = 8, 16
    (attention,) = contract_problems(model, Needs(attention=True))
    assert attention.startswith("attention patterns: the plan has attention observables")
    assert contract_problems(model, Needs()) == []


def test_attention_patterns_are_checked_for_shape_normalisation_and_head_counts():
    ok = WithAttention(vocab=8, context=16, n_layers=1, n_heads=2)
    assert contract_problems(ok, Needs(attention=True)) == []
    bad_rows = WithAttention(normalised=False, vocab=8, context=16, n_layers=1, n_heads=2)
    assert "do not sum to 1" in contract_problems(bad_rows, Needs(attention=True))[0]
    wrong_heads = WithAttention(vocab=8, context=16, n_layers=1, n_heads=4)
    assert "n_layers / n_heads" in contract_problems(wrong_heads, Needs(attention=True))[0]


def test_the_stdlib_models_and_configs_meet_the_contract():
    m = AttnOnlyTransformer(vocab=8, d_model=8, n_layers=1, n_heads=2, context=6)
    assert contract_problems(m, Needs(attention=True, head_parameters=True)) == []

    class Hf(Bare):  # a Hugging Face style config object
        config = type("Cfg", (), {"vocab_size": 50, "max_position_embeddings": 128})()

    assert (model_int(Hf(), "vocab"), model_int(Hf(), "context")) == (50, 128)


def test_plan_needs_come_from_observables_and_restrictions():
    assert plan_needs(compile_file(ROOT / "specs" / "quickstart.pat")) == Needs(attention=True)
    assert plan_needs(compile_file(ROOT / "specs" / "parentheses.pat")) == Needs()


def test_run_stops_before_training_and_imports_the_factory_beside_the_spec(tmp_path):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent("""
        import torch
        class NoContext(torch.nn.Module):
            task = "lm"
            vocab = 16
            def __init__(self):
                super().__init__()
                self.emb = torch.nn.Embedding(16, 16)
            def forward(self, tokens):
                return self.emb(tokens)
        def build():
            return NoContext()
    """))
    spec = tmp_path / "byom.pat"
    spec.write_text(textwrap.dedent("""
        model mine = factory("mymodels:build")
        data reps = repeated_spans(vocab=16, length=16, period=4)
        train t { model = mine  data = reps  steps = 5 }
        observable ih = induction_score(layer=0, heads=*)
        measure m { at = t.final  observe = [ih] }
    """))
    out = patc("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert out.returncode == 1, out.stderr
    assert "the model does not meet the contract" in out.stderr
    assert "context: no maximum sequence length" in out.stderr
    assert "attention patterns" not in out.stderr  # not checkable without a context: not claimed
    assert not list((tmp_path / "run" / "steps").glob("train-*/seed0/*.safetensors"))

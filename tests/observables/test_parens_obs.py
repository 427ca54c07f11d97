"""Rule observables for the parentheses task, on classifiers that implement one rule exactly."""

import pytest
import torch
from torch import nn

from patternlang.errors import PatRuntimeError
from patternlang.observables import build_observer
from patternlang.observables.parens import CLOSE, CLS, OPEN, PAD, parens_probe
from patternlang.plan.ir import ObsExpr, ObservableSpec

CTX = 18


class RuleClassifier(nn.Module):
    """logit(balanced) = w0·(±1 for EQUAL-COUNT) + w1·(±1 for NESTED); class 1 = balanced."""

    task = "classify"
    context = CTX

    def __init__(self, w_equal: float, w_nested: float):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w_equal, w_nested]))

    def forward(self, tokens):
        step = (tokens == OPEN).long() - (tokens == CLOSE).long()
        depth = step.cumsum(-1)
        equal = depth[:, -1] == 0
        nested = equal & (depth.min(-1).values >= 0)
        feats = torch.stack([equal, nested], -1).to(self.w.dtype) * 2 - 1
        one = feats @ self.w
        return torch.stack([torch.zeros_like(one), one], -1)


class ParensComponent:
    task = "classify"

    def sample(self, n, g):
        return parens_probe(g, n, ["nested", "unequal"], 2, 12, CTX)


def observe(model):
    specs = [ObservableSpec(name=n, expr=ObsExpr(op="prim", name=n))
             for n in ("p_balanced_ood", "nested_agreement", "equal_count_agreement")]
    obs = build_observer(model, specs, {"train": ParensComponent()}, {"train": 1.0}, probe=40,
                         seed=0, nbeta=10.0)
    x, y, L = obs.evaluate(None)
    return dict(zip(obs.obs_names, x[0].tolist())), obs


def test_ood_probe_is_equal_count_badly_nested_and_half_start_open():
    b = parens_probe(torch.Generator().manual_seed(0), 40, ["bad", "bad_open"], 4, 16, CTX)
    toks = b["tokens"]
    assert toks.shape == (40, CTX) and bool((toks[:, 0] == CLS).all())
    assert bool(b["equal"].all()) and not bool(b["nested"].any()) and not bool(b["label"].any())
    starts_open = toks[:, 1] == OPEN
    assert int(starts_open.sum()) >= 20
    for row in toks[starts_open]:
        steps = [1 if t == OPEN else -1 for t in row.tolist() if t in (OPEN, CLOSE)]
        depth = torch.tensor(steps).cumsum(0)
        assert depth.min() < 0 and depth[-1] == 0  # starts with "(" and dips below zero later
    assert bool(((toks == PAD) == ~b["mask"]).all())


@pytest.mark.parametrize("rule,expect", [("equal", (1.0, 0.5, 1.0)), ("nested", (0.0, 1.0, 0.5))])
def test_rule_models(rule, expect):
    model = RuleClassifier(12.0, 0.0) if rule == "equal" else RuleClassifier(0.0, 12.0)
    v, _ = observe(model)
    got = (v["p_balanced_ood"], v["nested_agreement"], v["equal_count_agreement"])
    assert got == pytest.approx(expect, abs=1e-3)


def test_mixed_model_in_between_and_chains():
    model = RuleClassifier(1.0, 1.0)
    _, obs = observe(model)
    w = torch.tensor([[12.0, 0.0], [0.0, 12.0], [1.0, 1.0]])
    x, _, _ = obs.evaluate({"w": w})
    assert x[0, 0] > 0.99 and x[1, 0] < 0.01 and 0.2 < x[2, 0] < 0.8


def test_parens_observable_on_a_language_model_is_an_error():
    from .obs_helpers import UniformTokens

    from patternlang.models.attn_only import AttnOnlyTransformer
    m = AttnOnlyTransformer(vocab=8, d_model=16, n_layers=1, n_heads=2, context=CTX)
    with pytest.raises(PatRuntimeError, match="classifier"):
        build_observer(m, [ObservableSpec(name="p", expr=ObsExpr(op="prim", name="p_balanced_ood"))],
                       {"u": UniformTokens("u", 8, CTX)}, {"u": 1.0}, probe=4, seed=0, nbeta=1.0)

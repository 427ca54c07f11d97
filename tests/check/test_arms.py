"""The ``arms`` setting of verify: named arms, random(K), regression(K, steps=, model=)."""

from __future__ import annotations

import pytest

from patternlang.compiler import compile_source
from .test_semantics import QUICK, codes

ARMS = "arms = [baseline, patterned, opposite, control]"


def _verify(arms: str):
    assert ARMS in QUICK
    return compile_source(QUICK.replace(ARMS, f"arms = {arms}"), "q.pat").step("verify.accelerate")


def test_random_and_regression_arms_lower_to_the_plan():
    v = _verify("[baseline, patterned, random(12), regression(8, steps=150, model=loglinear)]")
    assert v.arms == ["baseline", "patterned"] and v.random == 12
    assert (v.regression.runs, v.regression.steps, v.regression.model) == (8, 150, "loglinear")
    default = _verify("[baseline, patterned, regression(runs=6)]")
    assert default.regression.model == "auto"
    # the compiler resolves the equal-compute horizon: the proxies spend what the patterning spent
    compute = default.regression.compute
    assert default.regression.steps > 0 and compute["regression"]["steps"] == default.regression.steps
    spent, proxies = compute["patterning"]["equivalent_fwd_bwd"], compute["regression"]["equivalent_fwd_bwd"]
    assert proxies <= spent < proxies + 6 * 32  # within one proxy step (6 runs x batch 32) of equal


def test_plans_without_the_new_arms_keep_their_hash():
    plain = _verify("[baseline, patterned]")
    assert "random" not in plain.model_dump(mode="json") and "regression" not in plain.model_dump(mode="json")
    assert _verify("[baseline, patterned, random(3)]").model_dump(mode="json")["random"] == 3


@pytest.mark.parametrize("arms,code", [
    ("[baseline, random(0)]", "PAT302"),
    ("[baseline, random(2.5)]", "PAT301"),
    ("[baseline, random(3, 4)]", "PAT304"),
    ("[baseline, regression(2)]", "PAT302"),
    ("[baseline, regression(8, horizon=3)]", "PAT304"),
    ("[baseline, regression(8, model=cubic)]", "PAT301"),
    ("[baseline, shuffled]", "PAT301"),
])
def test_bad_arms_are_spec_errors(arms, code):
    assert code in codes(QUICK.replace(ARMS, f"arms = {arms}"))


def test_fewer_proxy_runs_than_free_directions_is_an_error():
    """Issue 26 item 6: regression(K) with K below the free directions of the weights (here 4
    of 5 components, 3 runs) cannot fit its slopes; said at check time."""
    from .util import diagnostics_text
    spec = """
model net = attn_only(layers=1, heads=2, d_model=16, context=8, vocab=16)
data a = uniform_tokens(vocab=16, length=8)
data b = uniform_tokens(vocab=16, length=8)
data c = uniform_tokens(vocab=16, length=8)
data d = uniform_tokens(vocab=16, length=8)
data e = uniform_tokens(vocab=16, length=8)
mixture base = {a: 0.2, b: 0.2, c: 0.2, d: 0.2, e: 0.2}
train pretrain { model = net  data = base  steps = 10  checkpoints = [5] }
sampler local { step = 1e-3  gamma = 300 }
susceptibility chi { at = pretrain.step(5)  sampler = local  observe = [loss(a)] }
patterning p { from = chi  lower loss(a) by 0.1  subject to { kl(base) <= 0.05 } }
verify p { arms = [baseline, patterned, regression(K)]  seeds = 1 }
"""
    text = diagnostics_text(spec.replace("regression(K)", "regression(3)"), "r.pat")
    assert "error[PAT302]: regression(3) fits 5 unknowns" in text and "4 free direction" in text
    assert diagnostics_text(spec.replace("regression(K)", "regression(4)"), "r.pat") is None

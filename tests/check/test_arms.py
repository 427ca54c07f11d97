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
    # steps = 0 (the default) is resolved at lowering to the equal-compute proxy horizon
    assert default.regression.steps > 0 and default.regression.model == "auto"
    assert default.regression.compute["regression"]["steps"] == default.regression.steps


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

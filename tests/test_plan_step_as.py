"""Plan.step_as: the typed form of Plan.step (what the runtime's step glue reads)."""

import pytest

from patternlang.compiler import compile_source
from patternlang.plan.ir import SampleStep, TrainStep

from .runtime.tiny import TINY


def test_step_as_returns_the_step_or_names_the_wrong_kind():
    plan = compile_source(TINY.split("patterning up")[0])
    assert plan.step_as("train.pre", TrainStep) is plan.step("train.pre")
    with pytest.raises(TypeError, match="'train.pre' is a TrainStep, not a SampleStep"):
        plan.step_as("train.pre", SampleStep)
    with pytest.raises(KeyError):
        plan.step_as("train.nope", TrainStep)

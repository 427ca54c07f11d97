"""nβ and ε have one source: the resolved plan. The executor writes a finished sample step back
into the plan as it ran (``services/sampling.write_back``); runners read ``ctx.plan`` and
``ctx.nbeta``; a point evaluation has no nβ at all."""

from __future__ import annotations

import math

import pytest

from patternlang import compile_file
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import SampleResult
from patternlang.runtime.services.sampling import write_back

from .tiny import write_spec


def _plan(tmp_path, sampler_line: str):
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace(
        "step = 1e-3  nbeta = auto  gamma = 300  chains = 4  draws = 12", sampler_line))
    return compile_file(str(spec))


def _ran(step_size: float, draws: int) -> SampleResult:
    # only the fields write_back reads: what the scan chose and the draws used
    return SampleResult.model_construct(step_size=step_size, draws=draws)


def test_write_back_puts_the_scans_choice_into_the_plan_once(tmp_path):
    plan = _plan(tmp_path, "step = auto  nbeta = auto  gamma = 300  chains = 4  draws = 12")
    compiled = plan.step_as("sample.chi", SampleStep)
    assert compiled.sampler.step == "auto"
    resolved = write_back(plan, compiled, _ran(3e-4, 12))
    ran = resolved.step_as("sample.chi", SampleStep)
    assert ran.sampler.step == 3e-4
    # at least one localization time 2/(εγ) of burn-in at the chosen ε
    assert ran.sampler.burnin >= math.ceil(2 / (3e-4 * 300))
    assert plan.step_as("sample.chi", SampleStep).sampler.step == "auto"  # the compiled plan stays
    assert resolved.hashes()["train.pre"] == plan.hashes()["train.pre"]
    assert write_back(resolved, plan.step("susceptibility.chi"), _ran(1.0, 1)) is resolved


def test_write_back_leaves_a_plan_with_nothing_to_resolve_as_it_is(tmp_path):
    plan = _plan(tmp_path, "step = 1e-3  nbeta = auto  gamma = 300  chains = 4  draws = 12")
    step = plan.step_as("sample.chi", SampleStep)
    assert write_back(plan, step, _ran(1e-3, 12)) is plan
    assert write_back(plan, step, None) is plan  # a rank without the result


def test_nbeta_is_read_from_the_plan_for_sample_and_susceptibility_steps(tmp_path):
    plan = _plan(tmp_path, "step = 1e-3  nbeta = 7.5  gamma = 300  chains = 4  draws = 12")
    ctx = StepContext.__new__(StepContext)
    ctx.plan, ctx.compiled = plan, None
    assert ctx.nbeta("sample.chi") == 7.5 == ctx.nbeta("susceptibility.chi")
    assert ctx.as_compiled is plan


def test_a_point_has_no_nbeta():
    import torch

    from patternlang.observables.context import EvalContext

    def ctx(nbeta):
        return EvalContext(model=torch.nn.Linear(2, 2), probes={}, weights={}, nbeta=nbeta)

    with pytest.raises(PatRuntimeError, match="outside a sample step"):
        ctx(None).posterior_nbeta()  # e.g. llc() tracked during training: no silent nβ = 1
    assert ctx(2.0).posterior_nbeta() == 2.0

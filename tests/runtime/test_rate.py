"""The measured rates behind `patc compile`'s time estimate, and the arithmetic that uses them."""

from __future__ import annotations

from patternlang.compiler import compile_file
from patternlang.compiler.cost import Cost, seconds, step_cost
from patternlang.runtime.rate import Rate, measure_rates

from .test_run import ROOT


def test_rates_are_measured_per_model_and_positive():
    plan = compile_file(ROOT / "specs" / "ci" / "quickstart.pat")
    rates = measure_rates(plan, budget_s=0.05)
    assert set(rates) == {s.model.name for s in plan.steps if s.kind == "train"}
    (rate,) = rates.values()
    assert rate.fwd_bwd > 0 and rate.fwd > rate.fwd_bwd  # a forward pass is cheaper than a step


def test_seconds_divide_passes_by_rates():
    assert seconds(Cost(fwd_bwd=1000, fwd=600), Rate(fwd_bwd=100.0, fwd=300.0)) == 12.0
    assert seconds(Cost(fwd_bwd=1000), None) is None


def test_finite_difference_check_costs_two_sampling_runs_per_component(tmp_path):
    text = (ROOT / "specs" / "quickstart.pat").read_text().replace(
        "estimator = coupled(delta=0.05, chains=8, draws=20)", "check = finite_difference(repeats, delta=0.05)")
    (tmp_path / "q.pat").write_text(text)
    plan = compile_file(tmp_path / "q.pat")
    sample, sus = plan.step("sample.chi"), plan.step("susceptibility.chi")
    per_run = step_cost(sample, plan)
    fd = step_cost(sus, plan)
    assert sus.check is not None and sus.check.components == ["repeats"]
    assert (fd.fwd_bwd, fd.fwd) == (2 * per_run.fwd_bwd, 2 * per_run.fwd)


def test_the_coupled_estimator_costs_its_paired_runs():
    """The quickstart's coupled(chains=8, draws=20) over 3 movable components: 2 sampled columns
    (the heaviest follows from the others) plus the solve's posterior-check pair, 2 runs each."""
    plan = compile_file(ROOT / "specs" / "quickstart.pat")
    sample, sus = plan.step("sample.chi"), plan.step("susceptibility.chi")
    s = sample.sampler
    cost = step_cost(sus, plan)
    assert cost.fwd_bwd == 3 * 2 * 8 * (s.burnin + 20 * s.thin) * s.batch
    assert cost.fwd == 3 * 2 * 8 * 20 * sample.probe * len(sample.components)

"""`estimator = coupled(...)` of a susceptibility block and `hold E by T`: front end to plan IR."""

from __future__ import annotations

import pytest

from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError
from patternlang.plan.ir import CoupledSpec, Plan
from .util import HERE

QUICK = (HERE / "fixtures" / "quickstart_v0.pat").read_text(encoding="utf-8")
OBSERVE = "  observe = [ih, prev, loss(repeats), loss(markov)]\n"


def with_estimator(setting: str) -> str:
    assert OBSERVE in QUICK
    return QUICK.replace(OBSERVE, OBSERVE + f"  estimator = {setting}\n")


def step_of(text: str, kind: str):
    plan = compile_source(text, "q.pat")
    return plan, next(s for s in plan.steps if s.kind == kind)


def codes(text: str) -> list[str]:
    with pytest.raises(PatSpecError) as info:
        compile_source(text, "q.pat")
    return [d.code for d in info.value.diagnostics]


def test_coupled_lowers_to_the_susceptibility_step():
    _, step = step_of(with_estimator("coupled(repeats, delta=0.1, chains=8, draws=40)"), "susceptibility")
    assert step.estimator == CoupledSpec(delta=0.1, components=["repeats"], chains=8, draws=40)
    _, step = step_of(with_estimator("coupled()"), "susceptibility")
    assert step.estimator == CoupledSpec()  # every movable component, the sampler's chains / draws
    _, plain = step_of(QUICK, "susceptibility")
    assert plain.estimator is None


def test_the_estimator_changes_the_susceptibility_hash_and_round_trips():
    plan, _ = step_of(with_estimator("coupled(delta=0.05)"), "susceptibility")
    plain, _ = step_of(QUICK, "susceptibility")
    a, b = plan.hashes(), plain.hashes()
    assert a["sample.chi"] == b["sample.chi"] and a["susceptibility.chi"] != b["susceptibility.chi"]
    assert Plan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize("setting, code", [
    ("coupled(nothing)", "PAT201"),
    ("coupled(delta=0.7)", "PAT302"),
    ("coupled(chains=1)", "PAT302"),
    ("coupled(eps=0.05)", "PAT203"),
    ("finite_difference()", "PAT301"),
])
def test_bad_estimators_are_spec_errors(setting, code):
    assert code in codes(with_estimator(setting))


def test_hold_takes_a_tolerance_with_by():
    text = QUICK.replace("hold loss(markov)", "hold loss(markov) by 0.01")
    _, solve = step_of(text, "solve")
    (hold,) = [t for t in solve.targets if t.kind == "hold"]
    assert hold.amount == 0.01
    assert "PAT301" in codes(QUICK.replace("hold loss(markov)", "hold loss(markov) to 0.01"))

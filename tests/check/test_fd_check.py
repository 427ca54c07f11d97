"""`check = finite_difference(...)` of a susceptibility block: front end to plan IR."""

from __future__ import annotations

import pytest

from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError
from patternlang.plan.ir import FiniteDiffSpec, Plan
from .util import HERE

QUICK = (HERE / "fixtures" / "quickstart_v0.pat").read_text(encoding="utf-8")
OBSERVE = "  observe = [ih, prev, loss(repeats), loss(markov)]\n"


def with_check(setting: str) -> str:
    assert OBSERVE in QUICK
    return QUICK.replace(OBSERVE, OBSERVE + f"  check = {setting}\n")


def chi_step(text: str):
    plan = compile_source(text, "q.pat")
    return plan, next(s for s in plan.steps if s.kind == "susceptibility")


def codes(text: str) -> list[str]:
    with pytest.raises(PatSpecError) as info:
        compile_source(text, "q.pat")
    return [d.code for d in info.value.diagnostics]


def test_check_lowers_to_the_susceptibility_step():
    _, step = chi_step(with_check("finite_difference(repeats, uniform, delta=0.1)"))
    assert step.check == FiniteDiffSpec(delta=0.1, components=["repeats", "uniform"])
    _, step = chi_step(with_check("finite_difference()"))
    assert step.check == FiniteDiffSpec(delta=0.05, components=[])  # every component


def test_eps_the_shifts_earlier_name_is_still_accepted():
    # specs written before issue 25 named the mixture's shift eps (ε is the SGLD step)
    _, old = chi_step(with_check("finite_difference(repeats, eps=0.1)"))
    _, new = chi_step(with_check("finite_difference(repeats, delta=0.1)"))
    assert old.check == new.check
    assert "PAT203" in codes(with_check("finite_difference(repeats, delta=0.1, eps=0.1)"))
    # and a plan.json written then still reads
    assert FiniteDiffSpec.model_validate({"eps": 0.2, "components": []}).delta == 0.2


def test_check_round_trips_and_changes_only_downstream_hashes():
    plan, _ = chi_step(with_check("finite_difference(repeats)"))
    assert Plan.from_json(plan.to_json()) == plan
    base, _ = chi_step(QUICK)
    h0, h1 = base.hashes(), plan.hashes()
    assert h0["train.pretrain"] == h1["train.pretrain"] and h0["sample.chi"] == h1["sample.chi"]
    assert h0["susceptibility.chi"] != h1["susceptibility.chi"]


def test_no_check_leaves_the_plan_json_unchanged():
    plan, step = chi_step(QUICK)
    assert step.check is None
    assert '"check"' not in plan.to_json()


@pytest.mark.parametrize("setting, code", [
    ("finite_difference(nope)", "PAT201"),
    ("finite_difference(repeats, delta=0.7)", "PAT302"),
    ("finite_difference(repeats, eps=0.7)", "PAT302"),
    ("finite_difference(repeats, step=0.1)", "PAT203"),
    ("3", "PAT301"),
])
def test_bad_checks_are_diagnosed(setting, code):
    assert code in codes(with_check(setting))


def test_component_outside_the_mixture_is_diagnosed():
    text = with_check("finite_difference(other)").replace(
        "mixture base", "data other = uniform_tokens(vocab=64, length=32)\nmixture base")
    assert "PAT305" in codes(text)

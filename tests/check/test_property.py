"""Property: any text -> a plan or a PatSpecError, never another exception.

Inputs: programs generated from the grammar itself, and random mutations (deleted, duplicated,
swapped or replaced tokens and characters) of the shipped specs. Each outcome is checked, not only
the absence of a crash: a plan must survive its JSON round trip with the same step hashes, and an
error must carry well-formed diagnostics (a stable code, a message, a span inside the text).
Only the health check that depends on the machine's speed (too_slow) is suppressed."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError
from patternlang.plan.ir import Plan
from patternlang.syntax.parser import grammar, scan
from .util import ROOT

SPECS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.pat"))]
PIECES = ["(", ")", "[", "]", "{", "}", "=", ",", "*", "-", "+", "/", "<=", ">=", "==", ".", "%", '"', "#",
          "auto", "where", "limit", "by", "to", "weight", "raise", "hold", "subject to", "model", "data",
          "train", "0", "-1", "1e9", "0.5", "1.5", "x", "ih", "base", "pretrain.step(7)", "\n", " "]
# too_slow is the one health check that depends on the machine's speed (compiling is the test's
# work, and a loaded CI machine is slow); every other health check stays on.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODE = re.compile(r"PAT[1-9]\d\d")


def compiles_or_diagnoses(text: str) -> str:
    """Compile ``text``; check the plan or the diagnostics; return which it was."""
    try:
        plan = compile_source(text, "<fuzz>.pat")
    except PatSpecError as exc:
        assert exc.diagnostics, "a PatSpecError must carry diagnostics"
        lines = text.count("\n") + 2  # a span may point just past the last line (end of input)
        for d in exc.diagnostics:
            assert CODE.fullmatch(d.code) and d.message.strip(), d
            assert d.severity in ("error", "warning"), d
            if d.span is not None and d.span.file == "<fuzz>.pat":
                assert 1 <= d.span.line <= lines and d.span.col >= 1, d
        return "error"
    assert isinstance(plan, Plan)
    again = Plan.from_json(plan.to_json())
    assert again == plan and again.hashes() == plan.hashes()
    assert set(plan.hashes()) == {s.id for s in plan.steps}
    return "plan"


def test_both_outcomes_are_checked():
    """The shipped specs compile (the plan branch above runs), and a broken one is diagnosed."""
    assert {compiles_or_diagnoses(t) for t in SPECS} == {"plan"}
    assert compiles_or_diagnoses(SPECS[0].replace("=", "", 1)) == "error"


@FAST
@given(from_lark(grammar(), start="start"))
def test_grammar_generated_programs(text):
    event(compiles_or_diagnoses(text))  # --hypothesis-show-statistics: how many compiled


@st.composite
def mutated_spec(draw):
    text = draw(st.sampled_from(SPECS))
    toks = scan(text)
    for _ in range(draw(st.integers(1, 3))):
        tok = toks[draw(st.integers(0, len(toks) - 1))]
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "insert"]))
        piece = draw(st.sampled_from(PIECES))
        if op == "delete":
            text = text[:tok.start] + text[tok.end:]
        elif op == "duplicate":
            text = text[:tok.end] + " " + tok.text + text[tok.end:]
        elif op == "replace":
            text = text[:tok.start] + piece + text[tok.end:]
        else:
            text = text[:tok.start] + piece + " " + text[tok.start:]
        toks = scan(text) or toks
    return text


@FAST
@given(mutated_spec())
def test_mutated_specs(text):
    event(compiles_or_diagnoses(text))


@FAST
@given(st.text(alphabet=st.sampled_from(list("(){}[]=,.*-+<>#\"%ab01 \n_")), max_size=60))
def test_noise(text):
    event(compiles_or_diagnoses(text))

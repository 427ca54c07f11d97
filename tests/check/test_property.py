"""Property: any text -> a plan or a PatSpecError, never another exception.

Inputs: programs generated from the grammar itself, and random mutations (deleted, duplicated,
swapped or replaced tokens and characters) of the shipped specs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError
from patternlang.syntax.parser import grammar, scan
from .util import ROOT

SPECS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.pat"))]
PIECES = ["(", ")", "[", "]", "{", "}", "=", ",", "*", "-", "+", "/", "<=", ">=", "==", ".", "%", '"', "#",
          "auto", "where", "limit", "by", "to", "weight", "raise", "hold", "subject to", "model", "data",
          "train", "0", "-1", "1e9", "0.5", "1.5", "x", "ih", "base", "pretrain.step(7)", "\n", " "]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def compiles_or_diagnoses(text: str) -> None:
    try:
        compile_source(text, "<fuzz>.pat")
    except PatSpecError as exc:
        assert exc.diagnostics, "a PatSpecError must carry diagnostics"


@FAST
@given(from_lark(grammar(), start="start"))
def test_grammar_generated_programs(text):
    compiles_or_diagnoses(text)


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
    compiles_or_diagnoses(text)


@FAST
@given(st.text(alphabet=st.sampled_from(list("(){}[]=,.*-+<>#\"%ab01 \n_")), max_size=60))
def test_noise(text):
    compiles_or_diagnoses(text)

"""Inline observable expressions in `track`, `observe` and `measure` lists get their source text as
name (`track = [mean(prev)]` once failed with "'' is listed twice")."""

from __future__ import annotations

import pytest

from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError

SPEC = """
model m = attn_only(layers=2, heads=2, d_model=16, context=16, vocab=16)
data reps = repeated_spans(vocab=16, length=16, period=4)
observable prev = previous_token_score(layer=0, heads=*)
observable ih = induction_score(layer=1, heads=*, period=4)
train t {
  model = m
  data = reps
  steps = 10
  track = [TRACK]
  every = 5
}
measure end {
  at = t.final
  observe = [prev[1], mean(ih) - 0.5 * sum(prev)]
}
"""


def names(track: str) -> tuple[list[str], list[str]]:
    plan = compile_source(SPEC.replace("TRACK", track))
    train = plan.step("train.t")
    measure = next(s for s in plan.steps if s.kind == "observe")
    return [o.name for o in train.track], [o.name for o in measure.observables]


def test_inline_track_expressions_are_named_by_their_text():
    track, measured = names("mean(prev)")
    assert track == ["mean(prev)"]
    assert measured == ["prev[1]", "mean(ih) - 0.5 * sum(prev)"]
    assert names("mean(prev), mean(ih), -(mean(ih) + 1) / 2")[0] == [
        "mean(prev)", "mean(ih)", "-(mean(ih) + 1) / 2"]


def test_the_same_expression_twice_is_still_an_error():
    with pytest.raises(PatSpecError) as exc:
        names("mean(prev), mean(prev)")
    assert "'mean(prev)' is listed twice" in str(exc.value.diagnostics[0].message)

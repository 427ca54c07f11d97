"""Parentheses data: the both-or-neither training property, the OOD probe, negative kinds."""

import itertools

import pytest
import torch

from patternlang.data import ComponentError
from patternlang.data.parens import (CLS, NEGATIVE_KINDS, PAD, decode, first_dip, is_equal_count,
                                     is_nested, parens, parens_ood)


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _strings(comp, n=600, seed=0):
    return decode(comp.sample(n, _g(seed))["tokens"])


def test_rules_on_hand_examples():
    assert is_nested("(())()") and is_equal_count("(())()")
    assert not is_nested("())(") and is_equal_count("())(")
    assert not is_nested("((") and not is_equal_count("((")
    assert is_nested([CLS, 1, 2, PAD]) and first_dip("())(") == 2 and first_dip("()") is None


def test_positives_are_nested_and_equal_count():
    comp = parens(2, 16, 0, "any", 1, 20)
    batch = comp.sample(500, _g())
    assert (batch["label"] == 1).all() and batch["tokens"].shape == (500, 20)
    for s in decode(batch["tokens"]):
        assert is_nested(s) and is_equal_count(s) and len(s) % 2 == 0 and 2 <= len(s) <= 16


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_negatives_satisfy_neither_rule_and_match_their_kind(kind):
    comp = parens(2, 16, 0, kind, 0, 17)
    batch = comp.sample(500, _g())
    assert (batch["label"] == 0).all()
    for s in decode(batch["tokens"]):
        assert not is_nested(s) and not is_equal_count(s) and len(s) % 2 == 0
        d = first_dip(s)
        if kind == "never_dips":
            assert d is None
        elif kind == "starts_close":
            assert d == 0
        elif kind == "dips_early":
            assert s[0] == "(" and d is not None and d < len(s) // 2
        elif kind == "dips_late":
            assert s[0] == "(" and d is not None and d >= len(s) // 2


def test_ood_probe_is_equal_count_not_nested_and_includes_open_first_dippers():
    batch = parens_ood(2, 16, 0, "mixed", 17).sample(400, _g())
    strings = decode(batch["tokens"])
    assert all(is_equal_count(s) and not is_nested(s) for s in strings)
    opens = [s for s in strings if s[0] == "("]
    assert len(opens) == 200  # exactly half start with "(" and dip below zero later
    assert all(first_dip(s) >= 2 for s in opens)
    assert torch.equal(batch["starts_open"], torch.tensor([s[0] == "(" for s in strings]))
    assert (batch["label"] == 0).all() and (batch["label_ec"] == 1).all()


def test_sampling_is_uniform_within_a_length():
    strings = _strings(parens(8, 8, 0, "any", 1, 9), n=7000)
    counts = {s: strings.count(s) for s in set(strings)}
    assert len(counts) == 14  # Catalan(4)
    assert max(counts.values()) / min(counts.values()) < 1.5
    ood = _strings(parens_ood(6, 6, 0, "starts_open", 7), n=3000)
    every = {"".join(p) for p in itertools.product("()", repeat=6)}
    expect = {s for s in every if s[0] == "(" and is_equal_count(s) and not is_nested(s)}
    assert set(ood) == expect


def test_depth_limit_and_lengths():
    strings = _strings(parens(4, 12, 2, "never_dips", 0, 13))
    depth = lambda s: max(itertools.accumulate(1 if c == "(" else -1 for c in s))  # noqa: E731
    assert max(depth(s) for s in strings) == 2
    assert {len(s) for s in strings} == {4, 6, 8, 10, 12}


def test_padding_mask_and_determinism():
    comp = parens(2, 10, 0, "dips_late", 0, 16)
    a, b = comp.sample(50, _g(3)), comp.sample(50, _g(3))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (a["tokens"][:, 0] == CLS).all()
    assert torch.equal(a["mask"], a["tokens"] != PAD)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ComponentError, match="context"):
        parens(2, 40, 0, "any", 1, 32)
    with pytest.raises(ComponentError, match="negative kind"):
        parens(2, 10, 0, "sideways", 0, 16)
    with pytest.raises(ComponentError, match="no string"):
        parens(2, 4, 0, "dips_early", 0, 8)

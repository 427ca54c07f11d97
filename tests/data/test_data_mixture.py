"""Mixtures: stratified counts follow the weights exactly in expectation."""

import pytest
import torch

from patternlang.data import ComponentError, ExampleComponent, Mixture, stratified_counts
from patternlang.data.parens import parens
from patternlang.data.synthetic import repeated_spans, uniform_tokens


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_counts_sum_to_n_and_average_to_n_times_weights():
    w = torch.tensor([0.5, 0.3, 0.15, 0.04, 0.01], dtype=torch.float64)
    g = _g()
    counts = torch.stack([stratified_counts(w, 32, g) for _ in range(4000)])
    assert (counts.sum(1) == 32).all()
    lo, hi = torch.floor(32 * w), torch.ceil(32 * w)
    assert ((counts >= lo) & (counts <= hi)).all()
    assert torch.allclose(counts.double().mean(0), 32 * w, atol=0.03)
    assert counts[:, 4].sum() > 0  # a 1% component still gets its share over steps


def test_mixture_batches_carry_component_index_and_are_deterministic():
    a, b = uniform_tokens(10, 8).renamed("a"), repeated_spans(10, 8, 2).renamed("b")
    mix = Mixture([a, b], {"a": 3, "b": 1})
    assert torch.allclose(mix.weights, torch.tensor([0.75, 0.25], dtype=torch.float64))
    batch, idx = mix.sample(16, _g(4))
    batch2, idx2 = mix.sample(16, _g(4))
    assert torch.equal(batch["tokens"], batch2["tokens"]) and torch.equal(idx, idx2)
    assert (idx == 1).sum() == 4
    rows_b = batch["tokens"][idx == 1]
    assert torch.equal(rows_b[:, 2:], rows_b[:, :-2])


def test_masks_are_filled_and_incompatible_mixes_refused():
    pos, neg = parens(2, 6, 0, "any", 1, 8), parens(2, 6, 0, "any", 0, 8)
    batch, idx = Mixture([pos, neg], [0.5, 0.5]).sample(10, _g())
    assert batch["label"].tolist() == [1] * 5 + [0] * 5
    with pytest.raises(ComponentError, match="tasks"):
        Mixture([pos, uniform_tokens(4, 8)], [1, 1])
    with pytest.raises(ComponentError, match="lengths"):
        Mixture([uniform_tokens(4, 8), uniform_tokens(4, 9)], [1, 1])
    with pytest.raises(ComponentError, match="distribution"):
        Mixture([uniform_tokens(4, 8)], [-1])
    with pytest.raises(ComponentError, match="unknown"):
        Mixture([uniform_tokens(4, 8).renamed("u")], {"v": 1.0})


def test_example_component_per_sample_weights():
    examples = {"tokens": torch.arange(12).view(4, 3)}
    comp = ExampleComponent("ex", examples, weights=torch.tensor([0.0, 1.0, 0.0, 3.0]))
    rows = comp.sample(4000, _g())["tokens"][:, 0] // 3
    freq = torch.bincount(rows, minlength=4).double() / 4000
    assert freq[0] == 0 and freq[2] == 0 and abs(freq[3] - 0.75) < 0.03
    with pytest.raises(ComponentError, match="weights"):
        comp.reweighted(torch.tensor([1.0, -1.0, 0.0, 0.0]))

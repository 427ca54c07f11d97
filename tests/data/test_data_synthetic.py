"""Synthetic components: determinism per generator and the structure each one promises."""

import math
from collections import Counter

import pytest
import torch

from patternlang import registry
from patternlang.data import ComponentError
from patternlang.data.synthetic import markov_text, repeated_spans, uniform_tokens, zipf_tokens


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("make", [lambda: uniform_tokens(17, 12), lambda: markov_text(17, 12, 2, 3),
                                  lambda: repeated_spans(17, 12, 5), lambda: zipf_tokens(17, 12, 1.2)])
def test_deterministic_per_generator_and_in_range(make):
    comp = make()
    a, b = comp.sample(40, _g(1)), comp.sample(40, _g(1))
    c = comp.sample(40, _g(2))
    assert torch.equal(a["tokens"], b["tokens"])
    assert not torch.equal(a["tokens"], c["tokens"])
    assert a["tokens"].shape == (40, 12) and a["tokens"].dtype == torch.long
    assert 0 <= int(a["tokens"].min()) and int(a["tokens"].max()) < 17
    assert comp.vocab_size == 17 and comp.seq_len == 12
    assert comp.sample(0, _g())["tokens"].shape == (0, 12)


def test_repeated_spans_have_exact_period():
    toks = repeated_spans(50, 23, 7).sample(200, _g())["tokens"]
    assert torch.equal(toks[:, 7:], toks[:, :-7])
    # the span itself is random: most rows are not periodic with a shorter period
    assert (toks[:, 1:7] != toks[:, :6]).any(dim=1).float().mean() > 0.9


def test_repeated_spans_rejects_period_not_shorter_than_length():
    with pytest.raises(ComponentError, match="period"):
        repeated_spans(10, 8, 8)


def _cond_entropy(toks, k):
    """Empirical H(x_t | x_{t-k..t-1}) in nats over positions t >= 3."""
    joint, ctx = Counter(), Counter()
    for row in toks.tolist():
        for t in range(3, len(row)):
            c = tuple(row[t - k:t])
            joint[c + (row[t],)] += 1
            ctx[c] += 1
    n = sum(joint.values())
    return -sum(v / n * math.log(v / ctx[key[:-1]]) for key, v in joint.items())


def test_markov_has_the_declared_order():
    comp = markov_text(vocab=5, length=40, order=2, seed=7, support=3)
    toks = comp.sample(4000, _g())["tokens"]
    h1, h2, h3 = (_cond_entropy(toks, k) for k in (1, 2, 3))
    assert h1 - h2 > 0.1  # the second-to-last token matters ...
    assert abs(h3 - h2) < 0.02  # ... a third one does not
    # every transition lies in the support of the fixed table
    table = comp.table
    rows = table.rows(torch.stack([toks[:, 8], toks[:, 9]], dim=1))
    assert (table.probs[rows, toks[:, 10]] > 0).all()
    # the chain is a function of its seed
    assert torch.equal(markov_text(5, 40, 2, 7, 3).table.probs, table.probs)
    assert not torch.equal(markov_text(5, 40, 2, 8, 3).table.probs, table.probs)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_transition_frequencies_match_the_table(order):
    """The vectorised inverse-CDF sampler draws each next token with the table's probabilities:
    empirical next-token frequencies of the most visited contexts are within a chi-square bound."""
    comp = markov_text(vocab=6, length=60, order=order, seed=3, support=4)
    toks = comp.sample(3000, _g(5))["tokens"]
    table = comp.table
    ctx = torch.stack([toks[:, t - order:t] for t in range(order, 60)], 1).reshape(-1, order)
    nxt = toks[:, order:].reshape(-1)
    rows = table.rows(ctx)
    for row in rows.bincount().argsort(descending=True)[:3]:
        hit = nxt[rows == row]
        p = table.probs[row]
        counts = torch.bincount(hit, minlength=6).double()
        assert counts[p == 0].sum() == 0  # never outside the support
        expected = p[p > 0] * hit.numel()
        stat = float(((counts[p > 0] - expected) ** 2 / expected).sum())
        assert stat < 20.0, (row, stat)  # chi-square, 3 dof: P(stat > 20) < 2e-4


def test_markov_large_context_is_hashed_but_still_order_k():
    comp = markov_text(vocab=100, length=6, order=3, seed=0)
    assert not comp.table.exact
    a = torch.tensor([[1, 2, 3], [9, 2, 3]])
    assert comp.table.rows(a)[0] != comp.table.rows(a)[1]


def test_zipf_frequencies_follow_the_exponent():
    toks = zipf_tokens(8, 50, 1.5).sample(2000, _g())["tokens"].flatten()
    freq = torch.bincount(toks, minlength=8).double() / toks.numel()
    expect = torch.arange(1, 9, dtype=torch.float64) ** -1.5
    expect /= expect.sum()
    assert torch.allclose(freq, expect, atol=0.005)


def test_uniform_tokens_are_uniform():
    toks = uniform_tokens(4, 100).sample(1000, _g())["tokens"].flatten()
    freq = torch.bincount(toks, minlength=4).double() / toks.numel()
    assert torch.allclose(freq, torch.full((4,), 0.25, dtype=torch.float64), atol=0.005)


def test_primitives_are_registered_with_docs_and_ranges():
    for name in ("uniform_tokens", "markov_text", "repeated_spans", "zipf_tokens", "parens",
                 "parens_ood", "python_code", "python_prose", "text_file", "token_file"):
        prim = registry.get("data", name)
        assert prim is not None, name
        assert prim.summary
        for p in prim.params:
            assert p.doc, (name, p.name)
    assert registry.get("data", "repeated_spans").param("period").range.ge == 1


def _multinomial_reference(table, n: int, length: int, g: torch.Generator) -> torch.Tensor:
    """The per-position ``torch.multinomial`` sampler that defined markov_text's random stream."""
    out = torch.zeros(n, length, dtype=torch.long)
    k = min(table.order, length)
    out[:, :k] = torch.randint(0, table.vocab, (n, k), generator=g)
    for t in range(k, length):
        p = table.probs[table.rows(out[:, t - table.order:t])]
        out[:, t] = torch.multinomial(p, 1, generator=g).squeeze(1)
    return out


@pytest.mark.parametrize("vocab,order,support", [(64, 1, 8), (512, 1, 23), (30, 3, 6), (100, 3, 10)])
def test_markov_stream_equals_the_multinomial_reference(vocab, order, support):
    table = markov_text(vocab=vocab, length=40, order=order, seed=5, support=support).table
    for n, length in [(16, 40), (3, 7), (2, 1)]:
        g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
        assert torch.equal(table.sample(n, length, g1), _multinomial_reference(table, n, length, g2))
        assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))  # same stream left

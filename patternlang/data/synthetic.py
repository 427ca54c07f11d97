"""Synthetic language-model components: no download, no corpus, fully determined by a seed.

* ``uniform_tokens``: i.i.d. uniform tokens, the no-structure baseline (loss floor ``log vocab``).
* ``markov_text``: a fixed random Markov chain of a given order (n-gram statistics, no copying).
* ``repeated_spans``: a random span repeated to fill the sequence; predicting the repeats needs
  in-context copying, so it is the induction-friendly component.
* ``zipf_tokens``: i.i.d. tokens with Zipfian frequencies (unigram statistics only).
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import torch
from torch import Tensor

from patternlang.data.component import ComponentError, GeneratedComponent
from patternlang.registry import Range, primitive

_EXACT_ROWS = 4096  # contexts up to this many get their own row; beyond, contexts are hashed
_PRIME = 2_147_483_647


@primitive("data")
def uniform_tokens(vocab: Annotated[int, Range(ge=2)] = 64,
                   length: Annotated[int, Range(ge=2)] = 32) -> GeneratedComponent:
    """Uniformly random token sequences (a no-structure baseline component).

    Args:
        vocab: number of distinct tokens.
        length: sequence length in tokens.
    """

    def fn(n: int, g: torch.Generator) -> dict[str, Tensor]:
        return {"tokens": torch.randint(0, vocab, (n, length), generator=g)}

    return GeneratedComponent("uniform_tokens", fn, vocab_size=vocab, seq_len=length)


class MarkovTable:
    """A fixed random transition table ``p(x_t | x_{t-order..t-1})`` drawn from ``seed``.

    Each context row puts Dirichlet(1) mass on ``support`` randomly chosen tokens (sparse-ish, so the
    chain has real structure). With at most 4096 contexts every context has its own row; beyond that
    contexts are hashed onto 4096 rows (still a function of exactly the last ``order`` tokens).

    Sampling draws the same tokens as ``torch.multinomial(p_row, 1)`` at each position, which picks
    ``argmax(p / E)`` with ``E`` exponential variates over the whole vocabulary (the Gumbel-max
    trick in its exponential form): all variates of a batch are drawn in one call, in the order
    the per-position calls drew them, so the random stream is unchanged, and each position costs
    one gather and one argmax over the ``support`` tokens with mass (every other token has
    ``p / E = 0``), not a ``multinomial`` call over the whole vocabulary.
    """

    def __init__(self, vocab: int, order: int, seed: int, support: int):
        self.vocab, self.order = vocab, order
        gen = torch.Generator().manual_seed(seed)
        contexts = vocab ** order
        self.exact = contexts <= _EXACT_ROWS
        rows = contexts if self.exact else _EXACT_ROWS
        chosen = torch.rand(rows, vocab, generator=gen).argsort(dim=1)[:, :support]
        mass = -torch.log(torch.rand(rows, support, generator=gen, dtype=torch.float64))
        self.probs = torch.zeros(rows, vocab, dtype=torch.float64)
        self.probs.scatter_(1, chosen, mass / mass.sum(dim=1, keepdim=True))
        self.mult = torch.randint(1, _PRIME, (order,), generator=gen)
        self.powers = vocab ** torch.arange(order - 1, -1, -1)
        # the tokens with mass in ascending order (argmax ties break as over the whole row)
        self.tokens = chosen.sort(dim=1).values.numpy()
        self.mass = np.take_along_axis(self.probs.numpy(), self.tokens, axis=1)

    def rows(self, context: Tensor) -> Tensor:
        """Row index of each context ``[n, order]`` (oldest token first)."""
        if self.exact:
            return (context * self.powers).sum(dim=1)
        return ((context * self.mult).sum(dim=1) % _PRIME) % self.probs.shape[0]

    def sample(self, n: int, length: int, g: torch.Generator) -> Tensor:
        """``n`` sequences ``[n, length]``: uniform first ``order`` tokens, then the chain."""
        out = torch.zeros(n, length, dtype=torch.long)
        if n == 0:
            return out
        k = min(self.order, length)
        out[:, :k] = torch.randint(0, self.vocab, (n, k), generator=g)
        if length == k:
            return out
        e = torch.empty(length - k, n, self.vocab, dtype=torch.float64).exponential_(generator=g)
        seq, e, each = out.numpy(), e.numpy(), np.arange(n)[:, None]  # type: ignore[assignment]
        for t in range(k, length):  # numpy here: ~1 us per op, where a torch op costs ~5-10 us
            r = seq[:, t - 1] if self.order == 1 and self.exact else self._np_rows(seq[:, t - self.order:t])
            tokens = self.tokens[r]
            seq[:, t] = tokens[each[:, 0], (self.mass[r] / e[t - k][each, tokens]).argmax(axis=1)]
        return out

    def _np_rows(self, context: np.ndarray) -> np.ndarray:
        return self.rows(torch.from_numpy(context)).numpy()


@primitive("data")
def markov_text(vocab: Annotated[int, Range(ge=2)] = 64,
                length: Annotated[int, Range(ge=2)] = 32,
                order: Annotated[int, Range(ge=1)] = 2, seed: int = 0,
                support: Annotated[int, Range(ge=0)] = 0) -> GeneratedComponent:
    """Text from a fixed random Markov chain of the given order (n-gram structure, no copying).

    The first ``order`` tokens of a sequence are uniform; each later token is drawn from the row of
    the transition table selected by the ``order`` tokens before it.

    Args:
        vocab: number of distinct tokens.
        length: sequence length in tokens.
        order: how many previous tokens the next token depends on.
        seed: seed of the transition table (the chain itself, not the samples).
        support: tokens with non-zero probability per context; 0 means ceil(sqrt(vocab)).
    """
    support = support or max(2, math.ceil(math.sqrt(vocab)))
    if support > vocab:
        raise ComponentError("markov_text", f"support {support} exceeds vocab {vocab}",
                             "use support <= vocab (or 0 for the default)")
    table = MarkovTable(vocab, order, seed, support)
    comp = GeneratedComponent("markov_text", lambda n, g: {"tokens": table.sample(n, length, g)},
                              vocab_size=vocab, seq_len=length)
    comp.table = table  # type: ignore[attr-defined]
    return comp


@primitive("data")
def repeated_spans(vocab: Annotated[int, Range(ge=2)] = 64,
                   length: Annotated[int, Range(ge=2)] = 32,
                   period: Annotated[int, Range(ge=1)] = 8) -> GeneratedComponent:
    """A random span of ``period`` tokens repeated to fill the sequence (the induction component).

    Tokens from position ``period`` on are exact copies of the token ``period`` places earlier, so
    they are predictable only by looking back in context: an induction head's job.

    Args:
        vocab: number of distinct tokens.
        length: sequence length in tokens.
        period: length of the repeated span.
    """
    if period >= length:
        raise ComponentError("repeated_spans", f"period {period} >= length {length}: nothing "
                             "repeats inside a sequence", "use a period shorter than the length")
    reps = -(-length // period)

    def fn(n: int, g: torch.Generator) -> dict[str, Tensor]:
        span = torch.randint(0, vocab, (n, period), generator=g)
        return {"tokens": span.repeat(1, reps)[:, :length]}

    return GeneratedComponent("repeated_spans", fn, vocab_size=vocab, seq_len=length)


@primitive("data")
def zipf_tokens(vocab: Annotated[int, Range(ge=2)] = 64,
                length: Annotated[int, Range(ge=2)] = 32,
                exponent: Annotated[float, Range(gt=0)] = 1.0) -> GeneratedComponent:
    """Tokens drawn independently with Zipfian frequencies: token ``r`` has probability
    proportional to ``(r + 1) ** -exponent``.

    Args:
        vocab: number of distinct tokens.
        length: sequence length in tokens.
        exponent: Zipf exponent (larger = more skewed).
    """
    probs = (torch.arange(1, vocab + 1, dtype=torch.float64) ** -exponent)
    probs = probs / probs.sum()

    def fn(n: int, g: torch.Generator) -> dict[str, Tensor]:
        if n == 0:
            return {"tokens": torch.zeros(0, length, dtype=torch.long)}
        flat = torch.multinomial(probs, n * length, replacement=True, generator=g)
        return {"tokens": flat.view(n, length)}

    comp = GeneratedComponent("zipf_tokens", fn, vocab_size=vocab, seq_len=length)
    comp.probs = probs  # type: ignore[attr-defined]
    return comp

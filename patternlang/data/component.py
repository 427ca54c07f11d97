"""Data components: named, seeded sources of batches.

A *component* is one of the data distributions ``q_k`` a mixture ``q = sum_k h_k q_k`` is made of.
Every component answers ``sample(n, g) -> batch`` where ``batch`` is a ``dict[str, Tensor]``
(``{"tokens": LongTensor[n, T]}`` for language models; classifiers add ``"label"`` and ``"mask"``)
and the result is a pure function of the generator's state: the same generator state gives the same
batch, bit for bit.

Three concrete kinds cover the stdlib:

* :class:`GeneratedComponent` wraps a function ``(n, g) -> batch`` (synthetic generators).
* :class:`StreamComponent` holds a finite token stream (a corpus) and samples windows of
  ``seq_len`` tokens at random offsets, with replacement.
* :class:`ExampleComponent` holds a fixed set of examples (rows of a batch) and samples rows with
  replacement, optionally with per-example weights (how a per-sample data intervention is expressed).
"""

from __future__ import annotations

import abc
from typing import Callable

import torch
from torch import Tensor

from patternlang.errors import PatError

Batch = dict[str, Tensor]


class ComponentError(PatError, ValueError):
    """A data component cannot be built or sampled as asked (bad settings, unusable file)."""

    def __init__(self, component: str, cause: str, remedy: str):
        self.component, self.cause, self.remedy = component, cause, remedy
        super().__init__(f"data component '{component}': {cause}\n  remedy: {remedy}")


class DataComponent(abc.ABC):
    """Base class. Subclasses implement :meth:`_sample`.

    Attributes:
        name: the component's name (a spec renames it with :meth:`renamed`).
        task: ``"lm"`` or ``"classify"``.
        vocab_size: number of token ids the component may emit (``None`` if unknown).
        seq_len: length ``T`` of every sequence it emits.
    """

    task: str = "lm"

    def __init__(self, name: str, task: str, vocab_size: int | None, seq_len: int | None):
        if task not in ("lm", "classify"):
            raise ComponentError(name, f"unknown task {task!r}", "use 'lm' or 'classify'")
        self.name, self.task, self.vocab_size, self.seq_len = name, task, vocab_size, seq_len

    def sample(self, n: int, g: torch.Generator) -> Batch:
        """``n`` sequences drawn with generator ``g`` (deterministic given its state)."""
        if n < 0:
            raise ComponentError(self.name, f"asked for {n} samples", "ask for n >= 0")
        return self._sample(int(n), g)

    @abc.abstractmethod
    def _sample(self, n: int, g: torch.Generator) -> Batch:
        """Subclasses draw ``n`` samples here (``sample`` has checked ``n``)."""

    def renamed(self, name: str) -> "DataComponent":
        """This component under another name (shares the underlying data)."""
        self.name = name
        return self

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, "
                f"vocab_size={self.vocab_size}, seq_len={self.seq_len})")


class GeneratedComponent(DataComponent):
    """A component whose batches come from ``fn(n, g) -> batch`` (an unbounded generator)."""

    def __init__(self, name: str, fn: Callable[[int, torch.Generator], Batch], *,
                 task: str = "lm", vocab_size: int | None = None, seq_len: int | None = None):
        super().__init__(name, task, vocab_size, seq_len)
        self._fn = fn

    def _sample(self, n: int, g: torch.Generator) -> Batch:
        return self._fn(n, g)


class StreamComponent(DataComponent):
    """Windows of ``seq_len`` tokens at uniformly random offsets of a finite token stream.

    Args:
        name: component name.
        stream: 1-D integer tokens (a concatenated corpus).
        seq_len: window length.
        vocab_size: token id bound (default ``stream.max() + 1``).
    """

    def __init__(self, name: str, stream: Tensor, seq_len: int, vocab_size: int | None = None):
        stream = torch.as_tensor(stream).long().flatten()
        if stream.numel() < seq_len:
            raise ComponentError(name, f"the corpus has {stream.numel()} tokens, fewer than one "
                                 f"window of {seq_len}", "use a shorter length or more text")
        vocab = int(stream.max()) + 1 if vocab_size is None else vocab_size
        super().__init__(name, "lm", vocab, seq_len)
        self.stream = stream

    @property
    def n_tokens(self) -> int:
        return int(self.stream.numel())

    def _sample(self, n: int, g: torch.Generator) -> Batch:
        T = int(self.seq_len)
        starts = torch.randint(0, self.n_tokens - T + 1, (n,), generator=g)
        idx = starts[:, None] + torch.arange(T)[None, :]
        return {"tokens": self.stream[idx]}


class ExampleComponent(DataComponent):
    """A fixed set of examples sampled row-wise with replacement.

    Args:
        name: component name.
        examples: a batch whose tensors share their first dimension ``N``.
        task: ``"lm"`` or ``"classify"``.
        weights: optional non-negative weights per example (rows drawn with probability
            proportional to them; uniform when omitted).
        vocab_size: token id bound (default ``tokens.max() + 1``).
    """

    def __init__(self, name: str, examples: Batch, task: str = "lm",
                 weights: Tensor | None = None, vocab_size: int | None = None):
        tokens = examples.get("tokens")
        if tokens is None or tokens.dim() != 2 or tokens.shape[0] == 0:
            raise ComponentError(name, "examples need a non-empty 'tokens' tensor [N, T]",
                                 "pass a batch dict with tokens of shape [N, T]")
        N = tokens.shape[0]
        if any(v.shape[0] != N for v in examples.values()):
            raise ComponentError(name, "example tensors disagree on the number of rows",
                                 "give every tensor the same first dimension")
        vocab = int(tokens.max()) + 1 if vocab_size is None else vocab_size
        super().__init__(name, task, vocab, int(tokens.shape[1]))
        self.examples = examples
        self.weights = None
        if weights is not None:
            self.weights = self._check_weights(torch.as_tensor(weights, dtype=torch.float64), N)

    def _check_weights(self, w: Tensor, N: int) -> Tensor:
        if w.shape != (N,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ComponentError(self.name, f"per-example weights must be {N} finite non-negative "
                                 "numbers with a positive sum", "fix the weight vector")
        return w / w.sum()

    def reweighted(self, weights: Tensor, name: str | None = None) -> "ExampleComponent":
        """The same examples drawn with probabilities proportional to ``weights``."""
        return ExampleComponent(name or self.name, self.examples, self.task, weights,
                                self.vocab_size)

    def __len__(self) -> int:
        return int(self.examples["tokens"].shape[0])

    def _sample(self, n: int, g: torch.Generator) -> Batch:
        if self.weights is None:
            rows = torch.randint(0, len(self), (n,), generator=g)
        elif n == 0:
            rows = torch.zeros(0, dtype=torch.long)
        else:
            rows = torch.multinomial(self.weights, n, replacement=True, generator=g)
        return {k: v[rows] for k, v in self.examples.items()}

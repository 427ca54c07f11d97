"""Weighted mixtures of data components, drawn as stratified batches.

A mixture ``q = sum_k h_k q_k`` is sampled *stratified*: a batch of ``n`` holds ``c_k`` samples of
component ``k`` with ``c_k`` one of ``floor(n h_k)`` or ``ceil(n h_k)``. The ``r = n - sum_k
floor(n h_k)`` leftover slots go to components chosen by *systematic sampling* on the fractional
parts ``f_k = n h_k - floor(n h_k)`` (one seeded uniform draw), which gives component ``k`` an extra
slot with probability exactly ``f_k``. So ``E[c_k] = n h_k`` exactly: a component of weight 0.01 in
batches of 32 appears in about a third of the batches, instead of never (plain rounding) or at
random counts (i.i.d. multinomial draws).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from patternlang.data.component import Batch, ComponentError, DataComponent

_MASK_KEYS = ("mask", "loss_mask")


def stratified_counts(weights: Tensor, n: int, g: torch.Generator) -> Tensor:
    """Counts per component summing to ``n`` with ``E[counts] = n * weights`` exactly.

    Args:
        weights: probabilities ``h`` (non-negative, sum 1), shape ``[K]``.
        n: batch size.
        g: generator for the one uniform draw that places the leftover slots.
    """
    target = weights.double() * n
    base = torch.floor(target).long()
    frac = (target - base.double()).clamp(min=0.0)
    r = n - int(base.sum())  # = sum of the fractional parts
    u = float(torch.rand((), generator=g, dtype=torch.float64))
    if r <= 0:
        return base
    # Systematic sampling: points u, u+1, ..., u+r-1 on the cumulative fractional parts.
    frac = frac * (r / float(frac.sum()))  # absorbs rounding so the total is exactly r
    edges = torch.cumsum(frac, 0)
    points = u + torch.arange(r, dtype=torch.float64)
    picks = torch.searchsorted(edges, points, right=True).clamp(max=len(weights) - 1)
    return base + torch.bincount(picks, minlength=len(weights))


class Mixture:
    """Components with weights ``h`` (normalised to sum to one).

    Args:
        components: the components, all of one task and one sequence length.
        weights: one non-negative weight per component (a sequence in component order, or a
            mapping by component name).
    """

    def __init__(self, components: Sequence[DataComponent],
                 weights: Sequence[float] | Mapping[str, float]):
        self.components = list(components)
        if not self.components:
            raise ComponentError("mixture", "no components", "declare at least one component")
        self.names = [c.name for c in self.components]
        self.weights = self._normalise(weights)
        self._check_compatible()

    def _normalise(self, weights: Sequence[float] | Mapping[str, float]) -> Tensor:
        if isinstance(weights, Mapping):
            if len(set(self.names)) < len(self.names):
                raise ComponentError("mixture", f"component names repeat: {self.names}",
                                     "rename components before giving weights by name")
            unknown = sorted(set(weights) - set(self.names))
            if unknown:
                raise ComponentError("mixture", f"weights name unknown components {unknown}",
                                     f"use names among {self.names}")
            weights = [float(weights.get(n, 0.0)) for n in self.names]
        w = torch.as_tensor(list(weights), dtype=torch.float64)
        if w.shape != (len(self.components),):
            raise ComponentError("mixture", f"{w.numel()} weights for {len(self.components)} "
                                 "components", "give one weight per component")
        if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ComponentError("mixture", f"weights {w.tolist()} are not a distribution",
                                 "use finite non-negative weights with a positive sum")
        return w / w.sum()

    def _check_compatible(self) -> None:
        tasks = {c.task for c in self.components}
        if len(tasks) > 1:
            raise ComponentError("mixture", f"components mix tasks {sorted(tasks)}",
                                 "mix components of one task only")
        lens = [(c.name, c.seq_len) for c in self.components if c.seq_len is not None]
        if len({n for _, n in lens}) > 1:
            raise ComponentError("mixture", f"components have different sequence lengths {lens}",
                                 "give every component the same length")

    @property
    def task(self) -> str:
        return self.components[0].task

    @property
    def vocab_size(self) -> int | None:
        sizes = [c.vocab_size for c in self.components if c.vocab_size is not None]
        return max(sizes) if sizes else None

    @property
    def seq_len(self) -> int | None:
        return next((c.seq_len for c in self.components if c.seq_len is not None), None)

    def counts(self, n: int, g: torch.Generator) -> Tensor:
        """Samples per component for a batch of ``n`` (see :func:`stratified_counts`)."""
        return stratified_counts(self.weights, n, g)

    def sample(self, n: int, g: torch.Generator) -> tuple[Batch, Tensor]:
        """A stratified batch of ``n`` and the component index of each row (``LongTensor[n]``)."""
        counts = self.counts(n, g)
        parts, index = [], []
        for k, (comp, c) in enumerate(zip(self.components, counts.tolist())):
            if c > 0:
                parts.append(comp.sample(c, g))
                index.append(torch.full((c,), k, dtype=torch.long))
        return concat_batches(parts), torch.cat(index)


def concat_batches(parts: list[Batch]) -> Batch:
    """Concatenate batches row-wise; a mask missing from some parts is filled with ``True``."""
    keys = set().union(*(p.keys() for p in parts))
    out: Batch = {}
    for key in sorted(keys):
        pieces = []
        for p in parts:
            if key in p:
                pieces.append(p[key])
            elif key in _MASK_KEYS:
                pieces.append(torch.ones_like(p["tokens"], dtype=torch.bool))
            else:
                raise ComponentError("mixture", f"some components give '{key}' and others not",
                                     "mix components that produce the same batch fields")
        out[key] = torch.cat(pieces)
    return out

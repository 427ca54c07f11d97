"""Frozen-prefix caching: run only the moving part of the network on the fixed probes.

When the sampler moves only a later part of the model — one attention head of the last layer, say
(``restrict = [l1h0]``) — every stage of the forward pass before the first moving parameter computes
the same activations at every draw, for every chain, because the probes are fixed for the whole run
and those stages' parameters stay bit-exactly at the center. :class:`FrozenPrefix` computes that
residual stream once per probe (at the reference parameters, as one chain) and, at each draw, runs
only the rest of the network from it for all chains.

Which stages are frozen is not taken on trust: at every draw each leading stage's parameters are
compared with the reference values (``torch.equal``, every chain; a few hundred kB, negligible next to
one forward pass), and the prefix ends at the first stage that differs. A full-weight sampling thus
falls through to the ordinary pass at the cost of one comparison, and a cache can never serve values
the draw's parameters would not produce. The prefix runs the same kernels on the same values as the
uncached pass (a chain-batched matmul computes each chain's slice as the one-chain matmul does), so
the outputs are bit-identical (``tests/observables/test_prefix_cache.py``).

A model takes part through three methods (the stdlib ``AttnOnlyTransformer`` has them):

* ``prefix_stages() -> list[tuple[str, ...]]``: the parameter names each stage reads, in order;
* ``chain_batched_prefix(params, tokens, depth, return_attention) -> (residual, patterns)``;
* ``chain_batched_suffix(params, residual, depth, return_attention, patterns)`` -> what
  ``chain_batched_forward`` returns.

Example::

    prefix = FrozenPrefix.for_model(model, center)          # None when the model lacks the protocol
    prefix.set_params(stacked_params)                         # once per draw
    logits, patterns = prefix.run("c0", probe_tokens, attention=False) or fallback()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
from torch import Tensor, nn

from patternlang.observables.attention import stacked_params
from patternlang.observables.head_delta import HeadDelta

MAX_CACHE_BYTES = 512 * 2 ** 20
"""Total size of the cached residual streams (and patterns) above which probes are not cached (a
per-sample pool of many long examples would otherwise hold n x T x d_model floats per probe)."""


class FrozenPrefix:
    """Per-probe cache of the residual stream after the frozen leading stages of a model.

    Call :meth:`set_params` once per draw, then :meth:`run` per probe.

    Args:
        model: a model with the prefix protocol (see the module docstring).
        reference: the parameter values the frozen stages hold (the sampler's center w*), unstacked;
            ``None``: the model's own parameters.
        max_bytes: cache budget; probes beyond it run uncached.
        heads: also cache the frozen heads of the first moving layer when only some of its heads
            move (:mod:`.head_delta`: equal within float reassociation, not bit for bit).
    """

    def __init__(self, model: nn.Module, reference: Mapping[str, Tensor] | None = None,
                 max_bytes: int = MAX_CACHE_BYTES, heads: bool = True):
        self.model: Any = model  # a model with prefix stages (prefix_stages, chain_batched_suffix, ...)
        self.max_bytes = max_bytes
        self.stages: list[tuple[str, ...]] = cast(Any, model).prefix_stages()
        ref = {} if reference is None else reference
        self.reference = {n: (ref[n] if n in ref else p).detach() for n, p in model.named_parameters()}
        self.delta = HeadDelta.for_model(model, self.reference, self.stages) if heads else None
        self._cache: dict[tuple[str, int, bool], tuple[Tensor, list] | None] = {}  # None: over budget
        self._bytes = 0
        self._draw: tuple[dict[str, Tensor], int, list[int] | None] | None = None

    @classmethod
    def for_model(cls, model: nn.Module, reference: Mapping[str, Tensor] | None = None) -> FrozenPrefix | None:
        """The cache for ``model``, or ``None`` when the model does not implement the protocol (or
        its stages name parameters it does not list, as a ``torch.compile`` wrapper's prefixed names)."""
        if not all(hasattr(model, m) for m in ("prefix_stages", "chain_batched_prefix", "chain_batched_suffix")):
            return None
        names = {n for n, _ in model.named_parameters()}
        if any(n not in names for stage in cast(Any, model).prefix_stages() for n in stage):
            return None
        return cls(model, reference)

    def depth(self, params: Mapping[str, Tensor]) -> int:
        """How many leading stages hold the reference values in every chain of ``params`` (stacked
        ``[C, ...]``, every parameter)."""
        for s, stage in enumerate(self.stages):
            for name in stage:
                value, ref = params[name], self.reference[name]
                if value.shape[1:] != ref.shape or not torch.equal(value, ref.to(value.device).expand_as(value)):
                    return s
        return len(self.stages)

    def set_params(self, params: Mapping[str, Tensor] | None) -> None:
        """Start a draw: stacked ``[C, ...]`` parameters (some or all names; the model's own values
        for the others), or ``None`` (no chain-batched draw). Finds once how far they are frozen."""
        if params is None:
            self._draw = None
            return
        full = stacked_params(self.model, dict(params))
        depth = self.depth(full)
        heads = None
        if self.delta is not None and 0 < depth < len(self.stages):
            heads = self.delta.moving(full, depth)
        self._draw = (full, depth, heads)

    def run(self, key: str, tokens: Tensor, attention: bool):
        """``(logits [C, n, T, V], patterns or None)`` of every chain of the draw on probe ``key``
        (``tokens`` ``[n, T]``, the same at every call for one key), from the cached prefix; ``None``
        when no stage is frozen or the probe does not fit the cache budget (run the ordinary pass)."""
        if self._draw is None or self._draw[1] == 0:
            return None
        full, depth, heads = self._draw
        cached = self._prefix(key, tokens, depth, attention)
        if cached is None:
            return None
        residual, patterns = cached
        if heads is not None and not attention:
            return self.delta.logits(key, full, residual, depth, heads), None
        C = next(iter(full.values())).shape[0]
        residual = residual.expand(C, *residual.shape[1:])
        patterns = [None if p is None else p.expand(C, *p.shape[1:]) for p in patterns]
        out = self.model.chain_batched_suffix(full, residual, depth, attention, patterns)
        return out if attention else (out, None)

    def _prefix(self, key: str, tokens: Tensor, depth: int, attention: bool) -> tuple[Tensor, list] | None:
        """The one-chain prefix of probe ``key`` at the reference parameters (computed once)."""
        slot = (key, depth, attention)
        if slot not in self._cache:
            ref = {n: v[None] for n, v in self.reference.items()}
            with torch.no_grad():
                residual, patterns = self.model.chain_batched_prefix(ref, tokens[None], depth, attention)
            size = sum(t.numel() * t.element_size() for t in [residual, *patterns] if t is not None)
            fits = self._bytes + size <= self.max_bytes
            self._bytes += size if fits else 0
            self._cache[slot] = (residual, patterns) if fits else None
        return self._cache[slot]

"""Observation of a sampling that moves only some heads of one attention layer.

When the sampler moves only heads ``M`` of layer ``l`` (``restrict = [l1h0]``) and every earlier stage
is frozen (:mod:`.prefix_cache`), the frozen heads' terms of that layer are the same at every draw on a
fixed probe. :class:`HeadDelta` caches, once per probe, ``partial = x_l + b_O + Σ_{h∉M} z_h W_O,h``
and — when ``l`` is the last layer and the readout is linear and frozen — its logits ``base``; each
draw then computes only the moving heads and adds their term (the algebra of
:mod:`patternlang.models.attn_heads`)::

    logits = base + z_M · (W_O,M W_U)        (last layer: [n·T, h·d_head] x [h·d_head, vocab] per chain)
    x_l+1  = partial + z_M W_O,M            (otherwise; the later layers then run as usual)

For one head of 8 in the last layer of the vs_devinterp network that replaces the full layer and the
full unembedding (``n·T·d_model·vocab``) by the head's own query/key/value, its attention and a rank-16
product. The sums are the same terms added in another order, so the outputs equal the uncached
pass within float32 reassociation (``tests/observables/test_prefix_cache.py`` states the tolerance),
not bit for bit; ``FrozenPrefix(heads=False)`` keeps the bit-identical path.

A model takes part with ``head_parameters(layer, head)``, ``n_heads``,
``chain_batched_heads(params, residual, layer, heads) -> (z, W_O, b_O)`` and ``linear_readout(params)``
(the stdlib ``AttnOnlyTransformer`` has them), besides the prefix protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from patternlang.models.attn_heads import add_moving, frozen_partial


def _same(value: Tensor, ref: Tensor) -> bool:
    return torch.equal(value, ref.to(value.device).expand_as(value))


class HeadDelta:
    """Cached frozen-head partial sums (and base logits) of the first moving attention layer.

    Args:
        model: a model with the head protocol (module docstring) and the prefix protocol.
        reference: every parameter's reference value (the center), unstacked.
        stages: the model's ``prefix_stages()``.
    """

    def __init__(self, model: nn.Module, reference: Mapping[str, Tensor], stages: list[tuple[str, ...]]):
        self.model: Any = model  # a model with heads (head_parameters, chain_batched_heads, ...)
        self.reference, self.stages = reference, stages
        staged = {n for stage in stages for n in stage}
        self.readout = tuple(n for n in reference if n not in staged)
        self._cache: dict[tuple, tuple[Tensor, Tensor | None]] = {}

    @classmethod
    def for_model(cls, model: nn.Module, reference: Mapping[str, Tensor],
                  stages: list[tuple[str, ...]]) -> HeadDelta | None:
        methods = ("head_parameters", "chain_batched_heads", "linear_readout")
        if not all(hasattr(model, m) for m in methods) or getattr(model, "n_heads", None) is None:
            return None
        return cls(model, reference, stages)

    def moving(self, full: Mapping[str, Tensor], depth: int) -> list[int] | None:
        """The moving heads of the first moving stage (layer ``depth - 1``), or ``None`` when that
        layer moves outside its heads (``b_O``) or every head moves (nothing to save)."""
        layer, H = depth - 1, self.model.n_heads
        owned: set[str] = set()
        heads = []
        for h in range(H):
            slices = self.model.head_parameters(layer, h)
            owned.update(slices)
            if any(not _same(full[n][(slice(None),) + tuple(i)], self.reference[n][i]) for n, i in slices.items()):
                heads.append(h)
        others = [n for n in self.stages[depth] if n not in owned]
        if len(heads) == H or any(not _same(full[n], self.reference[n]) for n in others):
            return None
        return heads

    def logits(self, key: str, full: Mapping[str, Tensor], residual: Tensor, depth: int,
               heads: list[int]) -> Tensor:
        """Logits ``[C, n, T, vocab]`` of every chain: ``residual`` ``[1, n, T, D]`` enters layer
        ``depth - 1``, in which only ``heads`` move (:meth:`moving`)."""
        layer = depth - 1
        C = next(iter(full.values())).shape[0]
        partial, base = self._partial(key, residual, layer, heads)
        _, n, T, D = residual.shape
        z, W_O, _ = self.model.chain_batched_heads(full, residual.expand(C, n, T, D), layer, heads)
        if base is not None and self.readout_frozen(full):  # last layer, linear readout: rank-h term
            return add_moving(partial, base, z, W_O, self.model.linear_readout(full)).view(C, n, T, -1)
        x = add_moving(partial, None, z, W_O, None).view(C, n, T, D)
        return self.model.chain_batched_suffix(full, x, depth + 1)

    def _partial(self, key: str, residual: Tensor, layer: int, heads: list[int]) -> tuple[Tensor, Tensor | None]:
        """(residual + b_O + the frozen heads' terms, and the base logits when the readout is linear
        and frozen after the last layer), at the reference parameters, once per probe."""
        slot = (key, layer, tuple(heads))
        if slot not in self._cache:
            ref = {n: v[None] for n, v in self.reference.items()}
            frozen = [h for h in range(self.model.n_heads) if h not in heads]
            _, n, T, D = residual.shape
            with torch.no_grad():
                partial = frozen_partial(ref, residual, layer, frozen, self.model.chain_batched_heads)
                base = None
                W_U = self.model.linear_readout(ref)
                if layer == len(self.stages) - 2 and W_U is not None:
                    base = self.model.chain_batched_suffix(ref, partial, len(self.stages)).view(1, n * T, -1)
            self._cache[slot] = (partial, base)
        return self._cache[slot]

    def readout_frozen(self, full: Mapping[str, Tensor]) -> bool:
        """Whether the parameters after the last layer (the readout) hold the reference values."""
        return all(_same(full[n], self.reference[n]) for n in self.readout)

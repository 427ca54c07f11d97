"""Flat parameter layout and weight restrictions (which coordinates the sampler may move).

The sampler keeps every chain's parameters in ONE tensor ``flat: [C, P]`` (chains x coordinates);
each named parameter is a view ``flat[:, offset:offset + numel].view(C, *shape)``. A *restriction*
is the set of flat coordinates that move; every other coordinate stays bit-exactly at the center
w* (frozen in the drift AND in the noise), which is what a weight-restricted LLC needs.

Selectors (any mix, union of all):

* a parameter-name glob, matched with :func:`fnmatch.fnmatchcase`: ``"blocks.1.*"``,
  ``"unembed.W_U"``, ``"*.b_O"``;
* a head selector ``l{layer}h{head}`` with ``*`` allowed on either side: ``"l1h3"``, ``"l1h*"``,
  ``"l*h0"``. It asks the model's ``head_parameters(layer, head) -> {name: index_tuple}`` which
  slices belong to that head (see ``AttnOnlyTransformer.head_parameters``).

Example::

    layout = ParamLayout.from_model(model)
    idx = restriction_index(model, layout, ["l1h3", "unembed.*"])   # LongTensor of flat coordinates
"""

from __future__ import annotations

import fnmatch
import math
import re
from typing import Any, cast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from patternlang.errors import PatError

_HEAD = re.compile(r"^l(\d+|\*)h(\d+|\*)$")


class RestrictionError(PatError):
    """A restriction selector matched nothing or is malformed."""

    exit_code = 2


@dataclass(frozen=True)
class ParamLayout:
    """Where each named parameter lives inside the flat coordinate vector."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    numel: int
    dtype: torch.dtype

    @classmethod
    def from_model(cls, model: nn.Module) -> ParamLayout:
        """Layout of ``model.named_parameters()`` in registration order."""
        names, shapes, offsets, total, dtypes = [], [], [], 0, set()
        for name, p in model.named_parameters():
            names.append(name)
            shapes.append(tuple(p.shape))
            offsets.append(total)
            total += p.numel()
            dtypes.add(p.dtype)
        if not names:
            raise RestrictionError("the model has no parameters to sample")
        if len(dtypes) != 1:
            raise RestrictionError(f"all parameters must share one dtype, found {sorted(map(str, dtypes))}")
        return cls(tuple(names), tuple(shapes), tuple(offsets), total, dtypes.pop())

    def flatten(self, params: Mapping[str, Tensor], device: torch.device | None = None) -> Tensor:
        """A state dict (names as in the model) -> one row ``[P]``."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise RestrictionError(f"center is missing parameters: {missing[:5]}")
        rows = [params[n].detach().reshape(-1).to(device=device, dtype=self.dtype) for n in self.names]
        return torch.cat(rows)

    def views(self, flat: Tensor) -> dict[str, Tensor]:
        """Named views of ``flat`` (``[P]`` or ``[C, P]``), sharing its storage."""
        lead = flat.shape[:-1]
        parts = torch.split(flat, self.sizes, dim=-1)  # one split: its backward is a single cat
        return {name: part.view(*lead, *shape) for name, shape, part in zip(self.names, self.shapes, parts)}

    @property
    def sizes(self) -> list[int]:
        return [math.prod(s) for s in self.shapes]

    def slice_of(self, name: str) -> slice:
        i = self.names.index(name)
        return slice(self.offsets[i], self.offsets[i] + math.prod(self.shapes[i]))


def _head_entries(model: nn.Module, selector: str) -> list[tuple[str, tuple[Any, ...]]]:
    m = _HEAD.match(selector)
    assert m is not None
    if not hasattr(model, "head_parameters"):
        raise RestrictionError(f"head selector {selector!r} needs a model with head_parameters(layer, "
                               f"head); {type(model).__name__} has none")
    n_layers, n_heads = getattr(model, "n_layers", None), getattr(model, "n_heads", None)
    if (m[1] == "*" and n_layers is None) or (m[2] == "*" and n_heads is None):
        raise RestrictionError(f"{selector!r}: a wildcard needs the model's n_layers / n_heads")
    layers = range(n_layers or 0) if m[1] == "*" else [int(m[1])]  # (None was refused above)
    heads = range(n_heads or 0) if m[2] == "*" else [int(m[2])]
    entries: list[tuple[str, tuple[Any, ...]]] = []
    for layer in layers:
        for head in heads:
            try:
                entries.extend(cast(Any, model).head_parameters(layer, head).items())
            except ValueError as exc:
                raise RestrictionError(f"{selector!r}: {exc}") from None
    return entries


def restriction_mask(model: nn.Module, layout: ParamLayout, selectors: Sequence[str]) -> Tensor:
    """Boolean mask ``[P]``: True where a coordinate is sampled. Empty selectors -> all True."""
    if not selectors:
        return torch.ones(layout.numel, dtype=torch.bool)
    mask = torch.zeros(layout.numel, dtype=torch.bool)
    for sel in selectors:
        if _HEAD.match(sel):
            entries = _head_entries(model, sel)
        else:
            entries = [(n, ()) for n in layout.names if fnmatch.fnmatchcase(n, sel)]
            if not entries:
                raise RestrictionError(f"restriction {sel!r} matches no parameter; names look like "
                                       f"{list(layout.names[:4])}")
        for name, index in entries:
            if name not in layout.names:
                raise RestrictionError(f"{sel!r} names parameter {name!r}, which the model lacks")
            i = layout.names.index(name)
            view = mask[layout.slice_of(name)].view(layout.shapes[i])
            view[index] = True
    return mask


def restriction_index(model: nn.Module, layout: ParamLayout, selectors: Sequence[str]) -> Tensor | None:
    """Flat indices of the sampled coordinates, or ``None`` when everything is sampled."""
    if not selectors:
        return None
    mask = restriction_mask(model, layout, selectors)
    return mask.nonzero().squeeze(1)


def touched_names(layout: ParamLayout, index: Tensor | None) -> tuple[str, ...]:
    """Names of the parameters with at least one coordinate in ``index`` (all names for ``None``)."""
    if index is None:
        return layout.names
    hit = torch.zeros(layout.numel, dtype=torch.bool)
    hit[index.cpu()] = True
    return tuple(n for n in layout.names if bool(hit[layout.slice_of(n)].any()))


def apply_delta(flat: Tensor, delta: Tensor, index: Tensor | None, alive: Tensor | None) -> None:
    """``flat[:, index] += delta`` (all coordinates when ``index`` is None), zeroed for dropped
    chains (``alive`` [C, 1] of 0/1); ``delta`` is consumed."""
    if alive is not None:
        delta.mul_(alive)
    if index is None:
        flat.add_(delta)
    else:
        flat.index_add_(1, index, delta)


def head_restriction(model: nn.Module, layout: ParamLayout, index: Tensor | None) -> tuple[int, list[int]] | None:
    """``(layer, heads)`` when every sampled coordinate lies in the slices of some (not all) heads of
    one attention layer — the case the model's head-split forward (``chain_batched_head_forward``)
    serves — else ``None``. ``heads`` are the heads with at least one sampled coordinate."""
    n_layers, n_heads = getattr(model, "n_layers", None), getattr(model, "n_heads", None)
    if index is None or n_layers is None or n_heads is None or not hasattr(model, "head_parameters"):
        return None
    sampled = torch.zeros(layout.numel, dtype=torch.bool)
    sampled[index.cpu()] = True
    for layer in range(n_layers):
        covered, heads = torch.zeros_like(sampled), []
        for head in range(n_heads):
            mask = torch.zeros_like(sampled)
            for name, idx in cast(Any, model).head_parameters(layer, head).items():
                if name not in layout.names:  # e.g. a torch.compile wrapper's prefixed names
                    return None
                i = layout.names.index(name)
                mask[layout.slice_of(name)].view(layout.shapes[i])[idx] = True
            covered |= mask
            if bool((mask & sampled).any()):
                heads.append(head)
        if heads and not bool((sampled & ~covered).any()):
            return (layer, heads) if len(heads) < n_heads else None
    return None


"""Where a run of chains stopped, so that a later call continues it exactly.

``run_sgld(..., keep_state=True)`` puts a :class:`ChainState` in ``result.extra["state"]``;
``run_sgld(..., start=state)`` with ``num_draws = n`` runs ``n`` more draws from there (no second
burn-in). The state holds everything the update depends on — positions, every chain's two random
streams, the preconditioner (RMSProp's running square and frozen G), the draw sums, the trace so
far, the divergence window, the dropped chains — so a run of ``a`` draws continued by ``b`` draws
gives bit for bit the numbers of one run of ``a + b`` draws (the observer's moments, which the
caller owns, continue the same way: see :meth:`Observer.resume
<patternlang.observables.observer.Observer.resume>`). This is what ``draws = auto(...)`` samples
in chunks with (:mod:`patternlang.runtime.steps.sample.draws_auto`). One difference is possible, and only
for a chain that diverges: the end of a chunk is an extra divergence check, so such a chain may be
dropped (parked at w*) a few steps earlier; it is excluded from every estimate either way.

:meth:`ChainState.to_arrays` / :meth:`ChainState.from_arrays` round-trip through plain numpy
arrays (``np.savez``-ready, no pickles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from patternlang.engine.sampler.diagnostics import Divergence

_META = ("step", "draws", "init_loss", "nbeta", "batch_size")
_ARRAYS = ("flat", "batch_gens", "noise_gens", "chain_ids")


@dataclass
class ChainState:
    """A stopped run of chains ``chain_ids``: ``step`` sampler steps done (burn-in included),
    ``draws`` kept draws, L(w*) and nβ as measured by the first call, positions ``flat [C, P]``,
    generator states ``batch_gens`` / ``noise_gens`` ``[C, bytes]``, the :class:`DrawRecord
    <patternlang.engine.sampler.draw_record.DrawRecord>` state ``record`` and the update's ``update``."""

    step: int
    draws: int
    init_loss: float
    nbeta: float
    batch_size: int
    chain_ids: np.ndarray
    flat: np.ndarray
    batch_gens: np.ndarray
    noise_gens: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, *, step: int, draws: int, init_loss: float, nbeta: float, batch_size: int,
                chain_ids: list[int], flat: torch.Tensor, batch_gens: list[torch.Generator],
                noise_gens: list[torch.Generator], record: Any, update: Any) -> ChainState:
        def gens(gs: list[torch.Generator]) -> np.ndarray:
            return np.stack([g.get_state().cpu().numpy() for g in gs])

        return cls(step, draws, float(init_loss), float(nbeta), int(batch_size), np.asarray(chain_ids),
                   flat.detach().cpu().numpy().copy(), gens(batch_gens), gens(noise_gens),
                   record.state(), update.state())

    def restore(self, flat: torch.Tensor, batch_gens: list[torch.Generator],
                noise_gens: list[torch.Generator], record: Any, update: Any) -> None:
        """Put the chains, streams, record and update of a new call where this state left them."""
        flat.copy_(torch.as_tensor(self.flat, device=flat.device))
        for gs, states in ((batch_gens, self.batch_gens), (noise_gens, self.noise_gens)):
            for g, s in zip(gs, states):
                g.set_state(torch.as_tensor(s, dtype=torch.uint8))
        record.load_state(self.record)
        update.load_state(self.update)
        if not all(record.alive):  # a dropped chain: the update masks it, as the first call did
            update.alive = record.alive_tensor(flat.dtype)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.asarray(getattr(self, k)) for k in _META + _ARRAYS}
        out.update({f"record.{k}": np.asarray(v) for k, v in self.record.items() if k != "divergences"})
        out["record.divergences"] = np.array(json.dumps([d.to_dict() for d in self.record["divergences"]]))
        out.update({f"update.{k}": np.asarray(v) for k, v in self.update.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ChainState:
        meta: dict[str, Any] = {k: arrays[k].item() for k in _META}
        record: dict[str, Any] = {k[len("record."):]: np.asarray(v) for k, v in arrays.items() if k.startswith("record.")}
        record["divergences"] = [Divergence(**d) for d in json.loads(str(record["divergences"]))]
        update: dict[str, Any] = {k[len("update."):]: np.asarray(v) for k, v in arrays.items() if k.startswith("update.")}
        fields: dict[str, Any] = {**meta, **{k: np.asarray(arrays[k]) for k in _ARRAYS}}
        return cls(**fields, record=record, update=update)

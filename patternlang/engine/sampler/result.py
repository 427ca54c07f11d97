"""What a sampling run hands back: per-chain arrays (numpy), the LLC, diagnostics; JSON and concat.

Everything per chain is a numpy array with the chain on axis 0, so chain groups run separately
(``run_sgld(..., chain_ids=[4, 5, 6, 7])``, e.g. to resume or on several ranks) concatenate with
:meth:`SGLDResult.concat` into the result of the whole run, estimates and diagnostics recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from patternlang.engine.sampler.diagnostics import Diagnostics, Divergence, diagnose
from patternlang.engine.sampler.llc_moments import llc_from_moments
from patternlang.errors import PatError


class SamplerConfigError(PatError):
    """The sampler was configured wrongly (missing γ, bad sizes, mismatched chain groups)."""

    exit_code = 2


@dataclass
class SGLDResult:
    """One run (or a concatenation of chain groups of one run).

    Attributes:
        chain_ids: the chains in this result, in axis-0 order of every array.
        init_loss: L(w*), averaged over ``init_loss_batches`` batches.
        nbeta: the nβ used; ``batch_size``: B.
        draw_sum, draw_sumsq, draw_count: online float64 moments of the draw losses per chain.
        loss_trace: ``[C, draws // trace_every]`` draw losses (minibatch loss before each update).
        alive: False for a chain dropped after diverging.
        llc_per_chain: nβ·(mean draw loss - L(w*)) per chain (NaN for dropped chains).
        llc_mean, llc_se: mean over kept chains and its standard error.
        diagnostics: R-hat, trend test, divergences, flag and remedy.
        observations: what the observer's ``finalize()`` returned (or kept outputs, ``[C, draws, ...]``).
    """

    chain_ids: list[int]
    init_loss: float
    nbeta: float
    batch_size: int
    draw_sum: np.ndarray
    draw_sumsq: np.ndarray
    draw_count: np.ndarray
    loss_trace: np.ndarray
    alive: np.ndarray
    llc_per_chain: np.ndarray
    llc_mean: float
    llc_se: float
    diagnostics: Diagnostics
    config: dict[str, Any]
    observations: Any = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, *, chain_ids: list[int], init_loss: float, nbeta: float, batch_size: int,
              draw_sum: np.ndarray, draw_sumsq: np.ndarray, draw_count: np.ndarray,
              loss_trace: np.ndarray, alive: np.ndarray, divergences: list[Divergence],
              config: dict[str, Any], observations: Any = None, seconds: float = 0.0) -> SGLDResult:
        """Compute the estimates and diagnostics from the raw per-chain arrays."""
        per_chain, mean, se = llc_from_moments(draw_sum, draw_count, init_loss, nbeta, alive, loss_trace)
        diag = diagnose(loss_trace, alive, divergences, nbeta, config.get("step_size"), config.get("gamma"))
        return cls(list(chain_ids), float(init_loss), float(nbeta), int(batch_size), draw_sum, draw_sumsq,
                   draw_count, loss_trace, alive, per_chain, mean, se, diag, config, observations, seconds)

    @classmethod
    def concat(cls, results: list[SGLDResult]) -> SGLDResult:
        """Join chain groups of one run (same config and L(w*)); estimates are recomputed."""
        if not results:
            raise SamplerConfigError("concat needs at least one result")
        first = results[0]
        for r in results[1:]:
            same = ({k: v for k, v in r.config.items()} == first.config and r.nbeta == first.nbeta
                    and r.init_loss == first.init_loss)
            if not same:
                raise SamplerConfigError("chain groups differ in config, nbeta or init_loss; run groups "
                                         "with the same config and pass init_loss= from the first group")
        ids = [c for r in results for c in r.chain_ids]
        if len(set(ids)) != len(ids):
            raise SamplerConfigError(f"chain groups overlap: {ids}")
        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(r, name) for r in results])

        return cls.build(chain_ids=ids, init_loss=first.init_loss, nbeta=first.nbeta,
                         batch_size=first.batch_size, draw_sum=cat("draw_sum"), draw_sumsq=cat("draw_sumsq"),
                         draw_count=cat("draw_count"), loss_trace=cat("loss_trace"), alive=cat("alive"),
                         divergences=[d for r in results for d in r.diagnostics.divergences],
                         config=first.config, observations=_concat_obs([r.observations for r in results]),
                         seconds=sum(r.seconds for r in results))

    @property
    def num_chains(self) -> int:
        return len(self.chain_ids)

    def to_dict(self, trace: bool = True) -> dict[str, Any]:
        """JSON-ready dict (NaN written as None). Observations are left out (the observer owns them)."""
        d: dict[str, Any] = {
            "chain_ids": self.chain_ids, "init_loss": self.init_loss, "nbeta": self.nbeta,
            "batch_size": self.batch_size, "llc_mean": finite_or_none(self.llc_mean), "llc_se": finite_or_none(self.llc_se),
            "llc_per_chain": [finite_or_none(x) for x in self.llc_per_chain], "alive": self.alive.tolist(),
            "draw_sum": self.draw_sum.tolist(), "draw_sumsq": self.draw_sumsq.tolist(),
            "draw_count": self.draw_count.tolist(), "diagnostics": self.diagnostics.to_dict(),
            "config": self.config, "seconds": self.seconds}
        if trace:
            d["loss_trace"] = [[finite_or_none(x) for x in row] for row in self.loss_trace]
        return d


def finite_or_none(x: float) -> float | None:
    """A number as the results' JSON holds it: NaN and infinities as ``None`` (null)."""
    x = float(x)
    return x if np.isfinite(x) else None


def _concat_obs(items: list[Any]) -> Any:
    if all(i is None for i in items):
        return None
    if all(isinstance(i, dict) and all(isinstance(v, np.ndarray) for v in i.values()) for i in items):
        return {k: np.concatenate([i[k] for i in items]) for k in items[0]}
    return items

"""The bookkeeping of one sampling run: online float64 draw moments, the kept loss trace, the
divergence window, and the observer called at each kept draw.

:class:`DrawRecord` is fed every step's per-chain minibatch losses by
:func:`~patternlang.engine.sampler.sgld.run_sgld`; after burn-in, every ``thin``-th step is a kept
*draw*: its loss enters ``sums``/``sumsq`` (the LLC needs no stored draws) and, every
``trace_every`` draws, the trace; the observer sees the chains' parameters. ``check`` looks at the
last ``check_every`` losses for NaN, inf or blow-ups and drops those chains. A record can start
from a :class:`~patternlang.engine.sampler.chain_state.ChainState` (``first_draw`` draws already
kept), so a continued run's sums and trace are those of one uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from patternlang.engine.sampler.diagnostics import Divergence, find_divergences
from patternlang.engine.sampler.restrict import ParamLayout
from patternlang.engine.sampler.result import SGLDResult


class DrawRecord:
    """Per-chain sums, trace and divergence window of one run of ``C`` chains."""

    def __init__(self, cfg: Any, C: int, L0: float, device: torch.device, observer: Callable[..., Any] | None,
                 first_draw: int = 0):
        self.cfg, self.L0, self.observer, self.first_draw = cfg, L0, observer, first_draw
        self.sums = torch.zeros(C, dtype=torch.float64, device=device)
        self.sumsq = torch.zeros(C, dtype=torch.float64, device=device)
        total = first_draw + cfg.num_draws
        n_trace = (total + cfg.trace_every - 1) // cfg.trace_every
        self.trace = torch.full((C, n_trace), float("nan"), dtype=torch.float64, device=device)
        self.window = torch.zeros(C, cfg.check_every, dtype=torch.float64, device=device)
        self.alive = [True] * C
        self.divergences: list[Divergence] = []
        self.kept: list[dict[str, np.ndarray]] = []

    def record(self, step: int, losses: Tensor, layout: ParamLayout, flat: Tensor) -> None:
        cfg = self.cfg
        lv = losses.to(torch.float64)
        self.window[:, step % cfg.check_every] = lv
        k, r = divmod(step - cfg.burnin, cfg.thin)
        if step < cfg.burnin or r:
            return
        self.sums += lv
        self.sumsq += lv * lv
        if k % cfg.trace_every == 0:
            self.trace[:, k // cfg.trace_every] = lv
        if self.observer is not None:
            out = self.observer(layout.views(flat.detach()))
            if cfg.keep_observations and out is not None:
                self.kept.append({n: v.detach().cpu().numpy() for n, v in out.items()})

    def check(self, step: int, chain_ids: list[int]) -> list[int]:
        """Chains (indices) that diverged in the current window and were alive until now."""
        n = step % self.cfg.check_every + 1
        found = find_divergences(self.window[:, :n].cpu().numpy(), step - n + 1, self.L0, self.cfg.blowup)
        new = []
        for i, (s, reason) in found.items():
            if self.alive[i]:
                self.alive[i] = False
                self.divergences.append(Divergence(chain_ids[i], s, reason))
                new.append(i)
        return new

    def alive_tensor(self, dtype: torch.dtype) -> Tensor:
        return torch.tensor(self.alive, dtype=dtype, device=self.sums.device)[:, None]

    def state(self) -> dict[str, Any]:
        """What a continued run needs (numpy, float64): sums, trace so far, window, alive, divergences."""
        def cpu(t: Tensor) -> Any:
            return t.detach().cpu().numpy().copy()

        return {"sums": cpu(self.sums), "sumsq": cpu(self.sumsq), "trace": cpu(self.trace),
                "window": cpu(self.window), "alive": np.array(self.alive, bool),
                "divergences": list(self.divergences)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Start from a saved :meth:`state` (its trace fills the first columns of this record's)."""
        dev = self.sums.device
        def as_t(a: Any) -> Tensor:
            return torch.as_tensor(np.asarray(a, np.float64), device=dev)

        self.sums, self.sumsq, self.window = as_t(state["sums"]), as_t(state["sumsq"]), as_t(state["window"])
        trace = as_t(state["trace"])
        self.trace[:, :trace.shape[1]] = trace
        self.alive = [bool(a) for a in state["alive"]]
        self.divergences = list(state["divergences"])

    def finish(self, cfg: Any, chain_ids: list[int], L0: float, nbeta: float, batch_size: int,
               seconds: float) -> SGLDResult:
        """The run's :class:`SGLDResult` over every draw kept so far (``first_draw`` included);
        its config counts them all, as a single run of that many draws would."""
        observations = None
        if self.kept:
            observations = {n: np.stack([d[n] for d in self.kept], axis=1) for n in self.kept[0]}
        if self.observer is not None and hasattr(self.observer, "finalize"):
            observations = self.observer.finalize()
        total = self.first_draw + cfg.num_draws
        config = {**cfg.to_dict(), "num_draws": total}
        return SGLDResult.build(
            chain_ids=chain_ids, init_loss=L0, nbeta=nbeta, batch_size=batch_size,
            draw_sum=self.sums.cpu().numpy(), draw_sumsq=self.sumsq.cpu().numpy(),
            draw_count=np.full(len(chain_ids), total), loss_trace=self.trace.cpu().numpy(),
            alive=np.array(self.alive), divergences=self.divergences, config=config,
            observations=observations, seconds=seconds)

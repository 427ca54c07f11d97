"""Localized, tempered SGLD with every chain advanced in ONE batched computation.

The update (devinterp's, with the minibatch MEAN loss L_B, optionally weighted by ``batch["weight"]``)::

    Δw = -(ε/2)·[nβ·∇L_B(w) + γ·(w - w*)] + sqrt(ε)·N(0, I)

samples p(w) ∝ exp(-nβ·L(w) - (γ/2)·||w - w*||²) around the center w*. All C chains live in one
tensor ``flat: [C, P]``; the per-chain losses come from one call of a loss in chain-batched form
(see :func:`chain_batched`; ``model_loss_fn`` losses get one from models that implement
``chain_batched_forward``), or else from one ``vmap`` of ``functional_call`` over the chain dim,
and one ordinary backward pass gives every chain's gradient (chains do not interact, so the gradient
of the sum is the stack of the per-chain gradients). The update is three fused tensor ops on ``flat``.

Randomness: chain ``c`` owns two ``torch.Generator`` streams seeded from ``(seed, c)``: one for its
noise, one handed to ``batch_fn`` for its minibatches. A chain's numbers therefore do not depend on
which other chains run beside it (``chain_ids`` runs any subset, e.g. to resume), and reruns are
bit-identical.

Example::

    from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
    cfg = SGLDConfig(step_size=1e-4, gamma=100.0, num_chains=4, num_draws=200, burnin=100)
    res = run_sgld(model, loss_fn, batch_fn, cfg)
    print(res.llc_mean, "+-", res.llc_se, res.diagnostics.summary())
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from patternlang.engine.sampler import updates
from patternlang.engine.sampler.chain_loss import LOOP_ON_CPU_PARAMS, ChainLoss
from patternlang.engine.sampler.chain_state import ChainState
from patternlang.engine.sampler.draw_record import DrawRecord
from patternlang.engine.sampler.restrict import (ParamLayout, apply_delta, head_restriction, restriction_index,
                                                 touched_names)
from patternlang.engine.sampler.result import SGLDResult, SamplerConfigError
from patternlang.engine.sampler.temperature import default_nbeta
from patternlang.errors import DivergenceError

Batch = dict[str, Tensor]
LossFn = Callable[..., Tensor]
BatchFn = Callable[[int, int, torch.Generator], Batch]

__all__ = [
    "LOOP_ON_CPU_PARAMS",
    "SGLDConfig",
    "SGLDResult",
    "SGLDUpdate",
    "SamplerConfigError",
    "chain_batched",
    "chain_generator",
    "default_nbeta",
    "run_sgld",
]


@dataclass(frozen=True)
class SGLDConfig:
    """Settings of one sampling run (names as in the paper and devinterp).

    Args:
        step_size: ε.
        gamma: γ, localization strength. REQUIRED: there is no silent default of 0.
        nbeta: nβ; ``None`` means B / log B with B the measured batch size (plans always pass
            a number: the compiler resolves ``nbeta = auto`` from the declared batch).
        num_chains: chains (ids ``0..num_chains-1`` unless ``run_sgld(chain_ids=...)``).
        num_draws: kept draws per chain.
        burnin: steps before the first draw (excluded from every estimate).
        thin: steps between draws.
        seed: root of every chain's random streams.
        restrict: selectors of the coordinates to sample (see :mod:`restrict`); empty = all.
        init_loss_batches: batches averaged for L(w*).
        trace_every: keep every k-th draw loss in ``loss_trace`` (estimates use all draws).
        check_every: steps between divergence checks.
        blowup: a draw loss L counts as a blow-up when L - L(w*) > blowup·(|L(w*)| + 1).
        keep_observations: keep every observer output (memory grows with draws).
        batching: how the gradients of all chains are computed (same numbers to float tolerance):
            ``"auto"`` (default): the loss in chain-batched form when there is one (a
            :func:`chain_batched` loss, or a ``model_loss_fn`` loss on a model implementing
            ``chain_batched_forward``, e.g. ``AttnOnlyTransformer``), called once on all chains, or,
            on a CPU with at least ``LOOP_ON_CPU_PARAMS`` parameters per chain, chain by chain;
            without a chain-batched form, ``"vmap"``. ``result.extra["batching"]`` says which ran;
            ``"batched"``: the chain-batched form called once on all chains (``vmap`` without one);
            ``"vmap"``: ``vmap`` of ``loss_fn`` over the chain dim (forced even when a native form
            exists; a :func:`chain_batched` loss is always called batched);
            ``"loop"``: chain by chain (the native form with C = 1 when there is one); on one CPU
            core this keeps every kernel at single-chain size, which is often fastest.
            The update is always one fused operation over all chains.
        preconditioner: the update rule, a name registered in :mod:`.updates`: ``"none"`` (plain
            SGLD, the default) or ``"rmsprop"``: drift and noise scaled by a diagonal RMSProp
            preconditioner of mean 1 (see :mod:`.rmsprop`), for every batching mode;
            ``rmsprop_alpha`` is its decay, ``rmsprop_floor`` the floor δ of its RMS relative to the
            mean RMS (bounds the spread of the preconditioner to about 1/δ).
    """

    step_size: float
    gamma: float | None = None
    nbeta: float | None = None
    num_chains: int = 4
    num_draws: int = 100
    burnin: int = 0
    thin: int = 1
    seed: int = 0
    restrict: tuple[str, ...] = ()
    init_loss_batches: int = 8
    trace_every: int = 1
    check_every: int = 10
    blowup: float = 100.0
    keep_observations: bool = False
    batching: str = "auto"
    preconditioner: str = "none"
    rmsprop_alpha: float = 0.99
    rmsprop_floor: float = 0.01

    def __post_init__(self) -> None:
        if self.gamma is None:
            raise SamplerConfigError("gamma (the localization strength γ) is required: set it explicitly, "
                                     "e.g. gamma=100. There is no default of 0 (an unlocalized chain drifts "
                                     "away from w* and the LLC is meaningless).")
        if isinstance(self.restrict, str):
            object.__setattr__(self, "restrict", (self.restrict,))
        checks = [(self.step_size > 0 and math.isfinite(self.step_size), "step_size must be > 0"),
                  (self.gamma >= 0, "gamma must be >= 0"),
                  (self.nbeta is None or self.nbeta > 0, "nbeta must be > 0"),
                  (self.num_chains >= 1, "num_chains must be >= 1"),
                  (self.num_draws >= 1, "num_draws must be >= 1"),
                  (self.burnin >= 0, "burnin must be >= 0"),
                  (self.thin >= 1, "thin must be >= 1"),
                  (self.init_loss_batches >= 1, "init_loss_batches must be >= 1"),
                  (self.batching in ("auto", "batched", "vmap", "loop"),
                   "batching must be 'auto', 'batched', 'vmap' or 'loop'"),
                  (self.preconditioner in updates.RULES,
                   f"preconditioner must be one of {', '.join(map(repr, updates.names()))}"),
                  (0 <= self.rmsprop_alpha < 1 and self.rmsprop_floor > 0,
                   "rmsprop_alpha must be in [0, 1) and rmsprop_floor > 0"),
                  (self.trace_every >= 1 and self.check_every >= 1, "trace_every/check_every must be >= 1")]
        for ok, msg in checks:
            if not ok:
                raise SamplerConfigError(msg)

    @property
    def total_steps(self) -> int:
        return self.burnin + self.num_draws * self.thin

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["restrict"] = list(self.restrict)
        return d


def chain_batched(fn: LossFn) -> LossFn:
    """Mark a loss written directly in chain-batched form (skips ``vmap``; fastest for tiny models).

    The marked function is called as ``fn(params, batch) -> Tensor[C, n]`` where ``params`` maps each
    parameter name to ``[C, *shape]`` and every batch tensor has a leading chain dim ``[C, n, ...]``
    (an ``expand``ed view when all chains share a batch).
    """
    fn.chain_batched = True  # type: ignore[attr-defined]
    return fn


def chain_generator(seed: int, chain: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of ``stream`` (0 = batches, 1 = noise, 2 = init loss) of ``chain`` under ``seed``."""
    state = np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, chain + 1, stream]).generate_state(2)
    g = torch.Generator(device=device)
    g.manual_seed(int(state[0]) << 31 ^ int(state[1]))
    return g


def _gather_batches(batch_fn: BatchFn, chain_ids: Sequence[int], step: int,
                    gens: Sequence[torch.Generator], device: torch.device) -> tuple[Batch, bool]:
    """Every chain's minibatch, stacked on a chain dim; ``shared`` when all chains got one object."""
    batches = [batch_fn(c, step, g) for c, g in zip(chain_ids, gens)]
    first = batches[0]
    if all(b is first for b in batches):
        return {k: v.to(device) for k, v in first.items()}, True
    return {k: torch.stack([b[k] for b in batches]).to(device) for k in first}, False


def _init_loss(chain_loss: ChainLoss, center: Tensor, batch_fn: BatchFn, cfg: SGLDConfig,
               device: torch.device) -> tuple[float, int]:
    """L(w*) averaged over ``init_loss_batches`` batches from the init stream (``chain=-1``)."""
    g = chain_generator(cfg.seed, -1, 2)
    total, size = 0.0, 0
    with torch.no_grad():
        for i in range(cfg.init_loss_batches):
            batch = {k: v.to(device) for k, v in batch_fn(-1, i, g).items()}
            size = next(iter(batch.values())).shape[0]
            total += float(chain_loss(center[None], batch, True)[0].double())
    return total / cfg.init_loss_batches, size


class SGLDUpdate:
    """Plain SGLD (``preconditioner="none"``), an :class:`~.updates.UpdateRule`:
    Δw = -(ε/2)[nβ g + γ(w - w*)] + sqrt(ε) ξ on all chains, optionally only on ``index``."""

    def __init__(self, cfg: SGLDConfig, nbeta: float, center: Tensor, index: Tensor | None,
                 gens: Sequence[torch.Generator], C: int):
        assert cfg.gamma is not None  # SGLDConfig refuses None
        self.eps, self.gamma, self.nbeta = cfg.step_size, float(cfg.gamma), nbeta
        self.index, self.gens = index, gens
        self.center = center if index is None else center[index]
        width = center.numel() if index is None else index.numel()
        self.noise = torch.empty(C, width, dtype=center.dtype, device=center.device)
        self.alive: Tensor | None = None  # [C, 1] of 0/1 once a chain has been dropped

    def state(self) -> dict[str, Any]:
        return {}  # plain SGLD keeps nothing between steps

    def load_state(self, state: dict[str, Any]) -> None:
        pass

    def __call__(self, flat: Tensor, grad: Tensor) -> None:
        for i, g in enumerate(self.gens):
            self.noise[i].normal_(generator=g)
        if self.index is None and self.alive is None:  # the common case, in four in-place passes:
            a = self.eps * self.gamma / 2  # w <- (1 - a) w + a w* - (ε nβ / 2) g + sqrt(ε) ξ
            flat.mul_(1.0 - a).add_(self.center, alpha=a)
            flat.add_(grad, alpha=-self.eps * self.nbeta / 2).add_(self.noise, alpha=math.sqrt(self.eps))
            return
        w = flat if self.index is None else flat[:, self.index]
        drift = grad if self.index is None else grad[:, self.index]
        drift.mul_(self.nbeta).add_(w - self.center, alpha=self.gamma)
        self.noise.mul_(math.sqrt(self.eps)).add_(drift, alpha=-self.eps / 2)
        apply_delta(flat, self.noise, self.index, self.alive)


def run_sgld(model: nn.Module, loss_fn: LossFn, batch_fn: BatchFn, config: SGLDConfig, *,
             center: Mapping[str, Tensor] | None = None, observer: Callable[..., Any] | None = None,
             chain_ids: Sequence[int] | None = None, progress: Callable[[int, int], None] | None = None,
             init_loss: float | None = None, start: ChainState | None = None,
             keep_state: bool = False) -> SGLDResult:
    """Sample the localized tempered posterior around ``center`` with all chains batched.

    Args:
        model: any ``nn.Module``; its parameters are the coordinates (the module is not modified).
        loss_fn: ``loss_fn(model, batch) -> Tensor[n]`` per-sample losses (vmapped over chains), or a
            :func:`chain_batched` loss.
        batch_fn: ``batch_fn(chain, step, g) -> batch``; deterministic given ``g``. ``chain == -1``
            asks for the batches of L(w*) (``step`` then counts them). Return the SAME dict object
            for every chain to share one batch (full-batch toy models) without copies.
        config: :class:`SGLDConfig`.
        center: w* as a state dict (names of ``model.named_parameters()``); default: the model's.
        observer: called at each kept draw with ``{name: Tensor[C, ...]}`` under ``no_grad``;
            its return value is dropped unless ``config.keep_observations``; if it has a
            ``finalize()`` method, that method's return value becomes ``result.observations``.
        chain_ids: which chains to run (default ``range(num_chains)``).
        progress: ``progress(steps_done, total_steps)``, called every ``check_every`` steps.
        init_loss: a known L(w*) (skips its estimation; chain groups of one run should share it).
        start: continue these chains (a :class:`ChainState` from ``keep_state``) for
            ``config.num_draws`` more draws; the result then covers every draw since the first call.
        keep_state: put the final :class:`ChainState` in ``result.extra["state"]``.

    Raises:
        DivergenceError: every chain diverged.
    """
    t_start = time.perf_counter()
    cfg = config
    chain_ids = list(range(cfg.num_chains)) if chain_ids is None else [int(c) for c in chain_ids]
    if not chain_ids or len(set(chain_ids)) != len(chain_ids) or min(chain_ids) < 0:
        raise SamplerConfigError(f"chain_ids must be distinct non-negative ints, got {chain_ids}")
    if start is not None and list(start.chain_ids) != chain_ids:
        raise SamplerConfigError(f"start holds chains {list(start.chain_ids)}, not {chain_ids}")
    layout = ParamLayout.from_model(model)
    device = next(model.parameters()).device
    w_star = layout.flatten(center if center is not None else dict(model.named_parameters()), device)
    index = restriction_index(model, layout, cfg.restrict)
    index = None if index is None else index.to(device)
    chain_loss = ChainLoss(model, loss_fn, layout, cfg.batching, device, touched_names(layout, index),
                           head_restriction(model, layout, index))
    if start is None:
        measured, batch_size = _init_loss(chain_loss, w_star, batch_fn, cfg, device)
        L0 = measured if init_loss is None else float(init_loss)
        nbeta = cfg.nbeta if cfg.nbeta is not None else default_nbeta(batch_size)
    else:
        L0, batch_size, nbeta = start.init_loss, start.batch_size, start.nbeta
    C = len(chain_ids)
    batch_gens = [chain_generator(cfg.seed, c, 0) for c in chain_ids]
    noise_gens = [chain_generator(cfg.seed, c, 1, device) for c in chain_ids]
    update = updates.load(cfg.preconditioner)(cfg, nbeta, w_star, index, noise_gens, C)
    flat = w_star.expand(C, -1).clone()
    run = DrawRecord(cfg, C, L0, device, observer, first_draw=0 if start is None else start.draws)
    if start is not None:
        start.restore(flat, batch_gens, noise_gens, run, update)
    first = 0 if start is None else start.step
    last = cfg.burnin + (run.first_draw + cfg.num_draws) * cfg.thin
    for step in range(first, last):
        batch, shared = _gather_batches(batch_fn, chain_ids, step, batch_gens, device)
        losses, grad = chain_loss.value_and_grad(flat, batch, shared)
        with torch.no_grad():
            run.record(step, losses, layout, flat)
            update(flat, grad)
            if (step + 1) % cfg.check_every == 0 or step + 1 == last:
                for d in run.check(step, chain_ids):
                    flat[d] = w_star  # park the dropped chain at w* (keeps its numbers finite)
                    update.alive = run.alive_tensor(flat.dtype)
                if progress is not None:
                    progress(step + 1 - first, last - first)
    result = run.finish(cfg, chain_ids, L0, nbeta, batch_size, time.perf_counter() - t_start)
    result.extra["batching"] = chain_loss.description
    if keep_state:
        result.extra["state"] = ChainState.capture(
            step=last, draws=run.first_draw + cfg.num_draws, init_loss=L0, nbeta=nbeta,
            batch_size=batch_size, chain_ids=chain_ids, flat=flat, batch_gens=batch_gens,
            noise_gens=noise_gens, record=run, update=update)
    if not any(result.alive):
        raise DivergenceError("sample", f"every chain diverged ({result.diagnostics.divergences[0]})",
                              result.diagnostics.remedy or "use a smaller step_size or a larger gamma",
                              {"divergences": [d.to_dict() for d in result.diagnostics.divergences]})
    return result

"""The evaluation context: what an observable primitive sees at one posterior draw.

Observable primitives are registered with ``@primitive("observable", skip=1, ...)``; their first
argument is an :class:`EvalContext`. Through it they

* read probe batches: the component probes fixed once at build time (``ctx.run("code")``) or a
  special probe they describe by a key and a builder (``ctx.special(key, build)``, e.g. repeated random
  tokens for the induction score), also built once, from a generator seeded by (seed, key);
* run the model with the *current* parameters of all C chains on a probe: ``ctx.run(key, attention=True)``
  returns a :class:`ProbeOutput` with per-sample losses (and per-token losses, logits, attention) from
  **one** forward pass, cached for the draw, so every observable on that probe shares it;
* read the center losses L(w*) (same probes, computed once at the center parameters) and ``nbeta``;
* read the mixture only through :func:`patternlang.observables.lm.mixture_loss`. An observable
  that does (``llc``, ``loss_increase()``) *depends on the mixture*: the context notices the read
  (``read_mixture``), and the observer then also evaluates it with the mixture replaced by one
  component or sample (``toward``) to get its explicit derivative — exact for observables affine in
  the mixture, as every one built from ``mixture_loss`` is.

Values are tensors with a leading chain dimension C: ``[C]`` for a scalar observable, or
:class:`Labeled` ``[C, D]`` with a name per coordinate (``l1h3``) for a vector one.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from patternlang.errors import PatRuntimeError
from patternlang.observables.attention import attention_adapter
from patternlang.observables.prefix_cache import FrozenPrefix

Batch = dict[str, Tensor]


@dataclass
class Labeled:
    """A vector observable value ``[C, D]`` with one name per coordinate."""

    value: Tensor
    labels: tuple[str, ...]


@dataclass
class ProbeOutput:
    """One forward pass of all chains on one probe. Shapes lead with the chain dimension C."""

    per_sample: Tensor  # [C, n] loss of each probe sample
    per_token: Tensor | None = None  # [C, n, T-1] (language models)
    logits: Tensor | None = None  # [C, n, classes] (classifiers)
    attention: Tensor | None = None  # [C, layers, n, H, q, k]


def probe_generator(seed: int, key: str) -> torch.Generator:
    """A generator seeded by (seed, key): the same probe for the same seed, whatever the order."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(key.encode())) % 2 ** 63)


def _sample_losses(task: str, logits: Tensor, batch: Batch) -> tuple[Tensor, Tensor | None]:
    """(per-sample loss [n], per-token loss [n, T-1] or None) from one model output."""
    if task == "classify":
        return torch.nn.functional.cross_entropy(logits, batch["label"], reduction="none"), None
    tokens = batch["tokens"]
    n, V = logits.shape[0], logits.shape[-1]
    # flattened cross-entropy: the fastest fused path on CPU (and it vmaps over chains). It runs on
    # every position (the last predicts nothing: ignored target) because slicing the logits first
    # would copy them (~4 MB per probe); per-token values are the same numbers either way.
    T = logits.shape[-2]
    target = torch.cat([tokens[:, 1:], tokens.new_full((n, 1), -100)], dim=1)
    tok = torch.nn.functional.cross_entropy(logits.reshape(-1, V), target.reshape(-1),
                                            reduction="none").view(n, T)[:, :-1]
    mask = batch.get("loss_mask")
    if mask is None:
        return tok.mean(-1), tok
    m = mask[:, 1:].to(tok.dtype)
    return (tok * m).sum(-1) / m.sum(-1).clamp_min(1.0), tok


@dataclass
class EvalContext:
    """State shared by all observables of one observer (see the module docstring).

    Args:
        model: the model (its own parameters are the defaults for any not passed per draw).
        probes: component probe batches by component name (fixed once).
        weights: mixture weights h_k by component name (normalised).
        nbeta: the sampler's inverse temperature nβ; ``None`` at a point (training, ``observe``),
            where there is no posterior and an observable that needs nβ is an error
            (:meth:`posterior_nbeta`).
        seed: seed of every special probe.
        probe_size: default number of samples of a special probe.
    """

    model: nn.Module
    probes: dict[str, Batch]
    weights: dict[str, float]
    nbeta: float | None
    seed: int = 0
    probe_size: int = 64
    task: str = field(init=False)
    _needs_attention: set[str] = field(default_factory=set, init=False)
    _cache: dict[str, ProbeOutput] = field(default_factory=dict, init=False)
    _center: dict[str, ProbeOutput] = field(default_factory=dict, init=False)
    _params: dict[str, Tensor] | None = field(default=None, init=False)
    _chains: int = field(default=1, init=False)
    _vmap: bool = field(default=True, init=False)
    _native: bool = field(default=True, init=False)
    toward: tuple[str, int | None] | None = field(default=None, init=False)
    """When set, :func:`~patternlang.observables.lm.mixture_loss` reads the loss of this component
    (``(k, None)``) or of one of its probe samples (``(k, i)``) instead of the mixture's."""
    read_mixture: bool = field(default=False, init=False)
    """Set by every mixture read; the observer resets it to learn which observables read it."""

    def __post_init__(self) -> None:
        self.task = getattr(self.model, "task", "lm")
        self.adapter = attention_adapter(self.model)
        self._vmap = bool(self.adapter.vmappable)
        self._runner = _Runner(self.model, self.adapter)
        self._prefix: FrozenPrefix | None = None  # set with the center (set_center)

    # ------------------------------------------------------------------ probes
    @property
    def chains(self) -> int:
        return self._chains

    def special(self, key: str, build: Callable[[torch.Generator], Batch]) -> str:
        """Register (once) a probe built by ``build(generator)``; returns its key for :meth:`run`."""
        if key not in self.probes:
            self.probes[key] = build(probe_generator(self.seed, key))
        return key

    def batch(self, key: str) -> Batch:
        if key not in self.probes:
            raise PatRuntimeError("observe", f"no probe named {key!r}",
                                  f"use one of the declared components: {sorted(self.weights)}")
        return self.probes[key]

    # ------------------------------------------------------------------ forward passes
    def posterior_nbeta(self) -> float:
        """nβ of the sampler these draws come from; a point evaluation has none."""
        if self.nbeta is None:
            raise PatRuntimeError("observe", "an observable that needs the sampler's nβ (llc(), a "
                                  "coupled direction) was evaluated at a point, outside a sample step",
                                  "measure it in a sample step (it is a posterior quantity)")
        return self.nbeta

    def set_params(self, params: dict[str, Tensor] | None) -> None:
        """Start a new draw: ``params`` are stacked chain parameters [C, ...] (None: the model's own,
        as one chain). Clears the per-draw cache."""
        self._params = params
        self._chains = next(iter(params.values())).shape[0] if params else 1
        self._cache = {}
        if self._prefix is not None:
            self._prefix.set_params(params)

    def run(self, key: str, attention: bool = False) -> ProbeOutput:
        """All chains on probe ``key``: one forward pass per draw, shared by every observable."""
        if attention and key not in self._needs_attention:
            self._needs_attention.add(key)
            self._cache.pop(key, None)  # only during discovery: rerun once with attention
        out = self._cache.get(key)
        if out is None:
            out = self._forward(self.batch(key), key in self._needs_attention, key)
            self._cache[key] = out
        return out

    def prefetch(self, keys: list[str]) -> None:
        """Run probes that share a shape (and attention need) as ONE concatenated forward pass and
        split the result per probe into the draw's cache. Rows are independent, so the split
        outputs equal separate passes; fewer, larger passes are faster on every backend."""
        groups: dict[tuple, list[str]] = {}
        for key in keys:
            if key in self._cache:
                continue
            b = self.batch(key)
            sig = (key in self._needs_attention,
                   tuple(sorted((k, tuple(v.shape[1:]), v.dtype) for k, v in b.items())))
            groups.setdefault(sig, []).append(key)
        for (attention, _), members in groups.items():
            if len(members) == 1:
                continue
            batches = [self.batch(k) for k in members]
            cat = {name: torch.cat([b[name] for b in batches]) for name in batches[0]}
            out = self._forward(cat, attention)
            sizes = [b["tokens"].shape[0] for b in batches]

            def split(t: Tensor | None, dim: int) -> list:
                return [None] * len(sizes) if t is None else list(t.split(sizes, dim=dim))

            parts = zip(split(out.per_sample, 1), split(out.per_token, 1), split(out.logits, 1),
                        split(out.attention, 2))
            for key, (ps, pt, lg, at) in zip(members, parts):
                self._cache[key] = ProbeOutput(ps, pt, lg, at)

    def center(self, key: str) -> ProbeOutput:
        """The probe's output at the center parameters w* (set by :meth:`set_center`)."""
        if key not in self._center:
            raise PatRuntimeError("observe", f"no center loss for probe {key!r}",
                                  "build the observer with center parameters")
        return self._center[key]

    def set_center(self, center: dict[str, Tensor] | None) -> None:
        """Evaluate every probe once at w* (``center`` unstacked; None = the model's parameters),
        and make w* the reference of the frozen-prefix cache (see :mod:`.prefix_cache`)."""
        self._prefix = FrozenPrefix.for_model(self.model, center) if self._native else None
        saved = (self._params, self._chains, self._cache)
        self.set_params(None if center is None else {k: v[None] for k, v in center.items()})
        self._center = {k: self._forward(b, False) for k, b in self.probes.items()}
        self._params, self._chains, self._cache = saved
        if self._prefix is not None:
            self._prefix.set_params(self._params)

    def _one(self, params: dict[str, Tensor] | None, batch: Batch, attention: bool):
        """One chain: (per-sample loss, per-token loss, classifier logits, attention)."""
        if params is None:
            logits, att = self.adapter.run(self.model, batch["tokens"], attention)
        else:
            logits, att = functional_call(self._runner, params, (batch["tokens"], attention),
                                          strict=False)
        per_sample, per_token = _sample_losses(self.task, logits, batch)
        keep = logits if self.task == "classify" else None
        return per_sample, per_token, keep, att

    def _forward_native(self, batch: Batch, attention: bool, key: str | None) -> ProbeOutput | None:
        """All chains through the adapter's natively chain-batched pass (``run_chains``: the stdlib
        transformer's fused kernels, no ``vmap``), or None when the adapter or model has none. A
        fixed probe (``key``) starts from the frozen-prefix cache when the draw's leading stages
        hold the center's values (less work; the same numbers bit for bit for frozen layers, within
        float reassociation for frozen heads: see :mod:`.prefix_cache`)."""
        run_chains = getattr(self.adapter, "run_chains", None)
        if run_chains is None:
            return None
        out = None
        if key is not None and self._prefix is not None:
            out = self._prefix.run(key, batch["tokens"], attention)
        if out is None:
            out = run_chains(self.model, self._params, batch["tokens"], attention)
        if out is None:
            return None
        logits, att = out
        C, n = logits.shape[:2]
        rows = {k: v.repeat(C, *[1] * (v.dim() - 1)) for k, v in batch.items()}  # chain-major
        per_sample, per_token = _sample_losses(self.task, logits.reshape(C * n, *logits.shape[2:]),
                                               rows)
        return ProbeOutput(per_sample.view(C, n),
                           None if per_token is None else per_token.view(C, n, -1),
                           logits if self.task == "classify" else None, att)

    def _forward(self, batch: Batch, attention: bool, key: str | None = None) -> ProbeOutput:
        with torch.no_grad():
            if self._params is not None and self._native:
                out = self._forward_native(batch, attention, key)
                if out is not None:
                    return out
                self._native = False  # not available for this model: vmap from now on
            if self._params is None:
                return ProbeOutput(*[None if t is None else t[None]
                                     for t in self._one(None, batch, attention)])
            params = {"m." + k: v for k, v in self._params.items()}
            if self._vmap:
                present = (True, self.task != "classify", self.task == "classify", attention)

                def f(p):
                    return tuple(t for t in self._one(p, batch, attention) if t is not None)

                try:
                    outs = iter(vmap(f)(params))
                    return ProbeOutput(*[next(outs) if keep else None for keep in present])
                except PatRuntimeError:
                    raise
                except Exception as exc:  # the model is not vmap-safe: loop over chains from now on
                    warnings.warn(f"{type(self.model).__name__} cannot run under vmap ({exc}); "
                                  "observing chains one at a time", stacklevel=2)
                    self._vmap = False
            rows = [self._one({k: v[c] for k, v in params.items()}, batch, attention)
                    for c in range(self._chains)]
            return ProbeOutput(*[None if col[0] is None else torch.stack(col) for col in zip(*rows)])


class _Runner(nn.Module):
    """Wraps the model so ``functional_call`` can run the adapter (not only ``forward``) with
    swapped-in parameters; the model's names gain the prefix ``m.``."""

    def __init__(self, model: nn.Module, adapter) -> None:
        super().__init__()
        self.m = model
        self.adapter = adapter

    def forward(self, tokens: Tensor, attention: bool):
        return self.adapter.run(self.m, tokens, attention)

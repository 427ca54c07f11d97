"""Stdlib observables for language models: losses, LLC, attention-head scores, ICL.

Each primitive takes the :class:`~patternlang.observables.context.EvalContext` first and returns a
value per chain: ``Tensor[C]`` (scalar) or :class:`Labeled` ``[C, heads]`` named ``l{layer}h{head}``.

Attention scores use *repeated random tokens*: each probe sequence is P distinct random tokens
r_1..r_P followed by the same P tokens again (length 2P; P = ``period``). In the second copy, the
query at position i (P ≤ i < 2P, 0-based) holds the token last seen at i − P, so

* an **induction head** attends to the token *after* that earlier occurrence: key i − P + 1, i.e.
  the diagonal at offset −(P − 1) — read on the second copy only (the first copy has no earlier
  occurrence; its one entry on that diagonal, P − 1 → 0, is not an induction position);
* a **duplicate-token head** attends to the earlier occurrence itself: key i − P (offset −P);
* a **previous-token head** attends to key i − 1, on every query position i ≥ 1.

Each score is the mean attention mass on that key, over query positions and probe sequences, so a
perfect head scores 1 and a uniform causal head about 1/(i+1) averaged over positions.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from torch import Tensor

from patternlang.errors import PatRuntimeError
from patternlang.observables.context import EvalContext, Labeled
from patternlang.registry import ComponentName, Heads, Range, primitive


# ---------------------------------------------------------------------------------------------
# helpers


def model_attr(model, *names: str, default=None):
    """First of ``names`` found on the model, its TransformerLens ``cfg`` or its HF ``config``."""
    for holder in (model, getattr(model, "cfg", None), getattr(model, "config", None)):
        for name in names:
            value = getattr(holder, name, None) if holder is not None else None
            if isinstance(value, int):
                return value
    return default


def default_period(ctx: EvalContext) -> int:
    context = model_attr(ctx.model, "context", "n_ctx", "max_position_embeddings")
    if context is None:
        raise PatRuntimeError("observe", "cannot tell the model's context length (no default is "
                              "assumed: probes must fit the model)", "give the model a `context` "
                              "attribute, or pass period= explicitly")
    return max(2, min(context // 2, 32))


def repeated_tokens_probe(ctx: EvalContext, period: int) -> str:
    """Register the repeated-random-tokens probe of ``period`` (n = ctx.probe_size); its key."""
    period = period or default_period(ctx)
    vocab = model_attr(ctx.model, "vocab", "d_vocab", "vocab_size")
    context = model_attr(ctx.model, "context", "n_ctx", "max_position_embeddings")
    if vocab is None:
        raise PatRuntimeError("observe", "cannot tell the model's vocabulary size",
                              "give the model a `vocab` attribute")
    if context is not None and 2 * period > context:
        raise PatRuntimeError("observe", f"period {period} repeated twice exceeds the model "
                              f"context {context}", f"use period <= {context // 2}")

    def build(g: torch.Generator) -> dict[str, Tensor]:
        n = ctx.probe_size
        if vocab >= period:  # distinct tokens within a period: one earlier occurrence exactly
            first = torch.stack([torch.randperm(vocab, generator=g)[:period] for _ in range(n)])
        else:
            first = torch.randint(vocab, (n, period), generator=g)
        return {"tokens": torch.cat([first, first], dim=1)}

    return ctx.special(f"__repeated_tokens_p{period}", build)


def _heads(heads, n_heads: int, layer: int, n_layers: int) -> list[int]:
    if not 0 <= layer < n_layers:
        raise PatRuntimeError("observe", f"layer {layer} does not exist (model has {n_layers})",
                              f"use a layer in 0..{n_layers - 1}")
    if heads is None or heads == "*" or heads == ["*"]:
        return list(range(n_heads))
    hs = [heads] if isinstance(heads, int) else [int(h) for h in heads]
    bad = [h for h in hs if not 0 <= h < n_heads]
    if bad or not hs:
        raise PatRuntimeError("observe", f"heads {bad or hs} do not exist in layer {layer} "
                              f"({n_heads} heads)", f"use heads in 0..{n_heads - 1} or '*'")
    return hs


def _diagonal_score(ctx: EvalContext, key: str, layer: int, heads, offset: int,
                    queries: range) -> Labeled:
    """Mean attention A[i, i − offset] over query positions ``queries`` (and probe sequences)."""
    att = ctx.run(key, attention=True).attention  # [C, layers, n, H, q, k]
    hs = _heads(heads, att.shape[3], layer, att.shape[1])
    q = torch.tensor(list(queries))
    a = att[:, layer][..., q, q - offset].mean(dim=(1, 3))  # diagonal first: [C, H]
    return Labeled(a[:, hs], tuple(f"l{layer}h{h}" for h in hs))


def _component(ctx: EvalContext, component: str) -> str:
    if component not in ctx.weights:
        raise PatRuntimeError("observe", f"unknown component {component!r}",
                              f"use one of {sorted(ctx.weights)}")
    return component


def mixture_loss(ctx: EvalContext, center: bool = False) -> Tensor:
    """L = Σ_k h_k L_k on the component probes: [C] (or [1] at the center).

    The only way an observable may read the mixture: with ``ctx.toward = (k, i)`` set by the
    observer it returns the loss of component k (or of its probe sample i) instead, which is how
    the explicit mixture derivative of ``llc`` and ``loss_increase()`` is taken."""
    ctx.read_mixture = True
    if ctx.toward is not None:
        name, index = ctx.toward
        per_sample = (ctx.center(name) if center else ctx.run(name)).per_sample
        return per_sample.mean(-1) if index is None else per_sample[..., index]
    total: Any = 0.0
    for name, h in ctx.weights.items():
        if h:
            out = ctx.center(name) if center else ctx.run(name)
            total = total + h * out.per_sample.mean(-1)
    return total


# ---------------------------------------------------------------------------------------------
# primitives


@primitive("observable", skip=1, shape="scalar", needs=("loss",),
           probe="the component's probe set", chance="log(vocab) nats (uniform prediction)")
def loss(ctx: EvalContext, component: ComponentName) -> Tensor:
    """Mean loss on a data component's probe set (nats per token for language models).

    Args:
        component: the data component whose probe set is evaluated.
    """
    return ctx.run(_component(ctx, component)).per_sample.mean(-1)


@primitive("observable", skip=1, shape="scalar", needs=("loss",), posterior_only=True,
           probe="the component's probe set, or the mixture probe", chance="none (0 at the checkpoint; ≈ λ/nβ over the posterior)")
def loss_increase(ctx: EvalContext, component: str = "") -> Tensor:
    """φ_C = L(w) − L(w*): loss increase over the checkpoint (on one component, or the mixture when
    empty). Sampled with a head restriction (``restrict: l1h3``) its mean is ≈ λ_C / nβ.

    Args:
        component: the data component ('' = the whole mixture).
    """
    if not component:
        return mixture_loss(ctx) - mixture_loss(ctx, center=True)
    key = _component(ctx, component)
    return ctx.run(key).per_sample.mean(-1) - ctx.center(key).per_sample.mean(-1)


@primitive("observable", skip=1, shape="scalar", needs=("loss",),
           probe="the component's probe set", chance="log(vocab) nats (uniform prediction)")
def token_loss(ctx: EvalContext, component: ComponentName,
               position: Annotated[int, Range(ge=1)] = 1) -> Tensor:
    """Mean loss of predicting the token at ``position`` (0-based; from tokens before it).

    Args:
        component: the data component whose probe set is evaluated.
        position: token position predicted, 1 .. length-1.
    """
    tok = ctx.run(_component(ctx, component)).per_token
    if tok is None or not 1 <= position <= tok.shape[-1]:
        raise PatRuntimeError("observe", f"token position {position} is not available",
                              "token_loss needs a language model and 1 <= position < length")
    return tok[..., position - 1].mean(-1)


@primitive("observable", skip=1, shape="scalar", needs=("loss",), posterior_only=True,
           probe="the mixture probe (weighted component probes)", chance="none (a complexity, not a score; compare it between checkpoints)")
def llc(ctx: EvalContext) -> Tensor:
    """Local learning coefficient observable nβ·(L(w) − L(w*)) on the mixture probe; its posterior
    mean is the LLC estimate λ̂."""
    return ctx.posterior_nbeta() * (mixture_loss(ctx) - mixture_loss(ctx, center=True))


@primitive("observable", skip=1, shape="scalar", needs=("loss",), posterior_only=True,
           probe="the mixture probe (weighted component probes)",
           chance="none (compare it between solutions)")
def free_energy(ctx: EvalContext, n: Annotated[int, Range(ge=3)]) -> Tensor:
    """Local free energy of the basin around w*, per log n: (n / log n)·L(w*) + nβ·(L(w) − L(w*)).

    Watanabe's asymptotics give F_n = n·L_n(w*) + λ·log n + … for the basin of w*, so the posterior
    mean of this observable, (n / log n)·L(w*) + λ̂, is F_n / log n. Two solutions compare by it
    where their losses differ (an unsaturated classifier), not only by λ: log p(U)/p(V) =
    F_n(V) − F_n(U). Its χ is the LLC's χ plus (n / (nβ·log n))·(L_k − L)(w*), the loss term.

    Args:
        n: the sample size the comparison is made at, e.g. the training samples a run sees
            (steps × batch).
    """
    return (n / math.log(n)) * mixture_loss(ctx, center=True) + llc(ctx)


@primitive("observable", skip=1, shape="per_head", needs=("attention",),
           probe="repeated random tokens (two copies of a random sequence of length period)",
           chance="≈ ln 2 / period (uniform causal attention over the scored positions)")
def induction_score(ctx: EvalContext, layer: Annotated[int, Range(ge=0)], heads: Heads = "*",  # type: ignore[assignment]
                    period: Annotated[int, Range(ge=0)] = 0) -> Labeled:
    """Induction (prefix-matching) score per head: attention from each position of the second copy
    of a repeated random sequence to the position right after the previous occurrence of its token
    (offset −(period − 1)), averaged. 1 = perfect induction head.

    Args:
        layer: attention layer.
        heads: heads of that layer ('*' = all).
        period: repetition period P (0 = half the context, at most 32).
    """
    key = repeated_tokens_probe(ctx, period)
    P = ctx.batch(key)["tokens"].shape[1] // 2
    return _diagonal_score(ctx, key, layer, heads, P - 1, range(P, 2 * P))


@primitive("observable", skip=1, shape="per_head", needs=("attention",),
           probe="repeated random tokens (two copies of a random sequence of length period)",
           chance="≈ ln 2 / period (uniform causal attention over the scored positions)")
def duplicate_token_score(ctx: EvalContext, layer: Annotated[int, Range(ge=0)],
                          heads: Heads = "*", period: Annotated[int, Range(ge=0)] = 0) -> Labeled:  # type: ignore[assignment]
    """Duplicate-token score per head: attention from the second copy of a repeated random sequence
    to the previous occurrence of the same token (offset −period).

    Args:
        layer: attention layer.
        heads: heads of that layer ('*' = all).
        period: repetition period P (0 = half the context, at most 32).
    """
    key = repeated_tokens_probe(ctx, period)
    P = ctx.batch(key)["tokens"].shape[1] // 2
    return _diagonal_score(ctx, key, layer, heads, P, range(P, 2 * P))


@primitive("observable", skip=1, shape="per_head", needs=("attention",),
           probe="repeated random tokens (shared with induction_score)",
           chance="≈ ln(T) / T for probe length T (uniform causal attention: mean of 1/(i+1), i ≥ 1)")
def previous_token_score(ctx: EvalContext, layer: Annotated[int, Range(ge=0)],
                         heads: Heads = "*") -> Labeled:  # type: ignore[assignment]
    """Previous-token score per head: mean attention from position i to i − 1 (i ≥ 1), on the
    repeated-random-tokens probe (shared with the induction score, one forward pass).

    Args:
        layer: attention layer.
        heads: heads of that layer ('*' = all).
    """
    key = repeated_tokens_probe(ctx, 0)
    T = ctx.batch(key)["tokens"].shape[1]
    return _diagonal_score(ctx, key, layer, heads, 1, range(1, T))


@primitive("observable", skip=1, shape="scalar", needs=("loss",),
           probe="the component's probe set (per-token losses)", chance="0 (no in-context learning)")
def icl_score(ctx: EvalContext, component: ComponentName, early: Annotated[int, Range(ge=1)] = 1,
              late: Annotated[int, Range(ge=1)] = 50) -> Tensor:
    """In-context-learning score: loss at a late position minus loss at an early one (Olsson et
    al.; more negative = more in-context learning).

    Args:
        component: the data component whose probe set is evaluated.
        early: early token position (Olsson et al.: 50).
        late: late token position (Olsson et al.: 500).
    """
    return token_loss(ctx, component, late) - token_loss(ctx, component, early)

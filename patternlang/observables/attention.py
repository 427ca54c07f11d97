"""Attention capture from any model through one small protocol.

Attention observables (induction, previous-token, duplicate-token scores) need the attention
patterns of the *same* forward pass that produced the logits. Models differ in how they expose them,
so the observation engine talks to an :class:`AttentionModel` adapter:

* :class:`AttnOnlyAdapter` — the stdlib :class:`~patternlang.models.attn_only.AttnOnlyTransformer`
  (``forward(tokens, return_attention=True)``); a pure function, so it runs under ``vmap`` over chains.
* :class:`LensAdapter` — TransformerLens ``HookedTransformer``: reads every ``blocks.{l}.attn.hook_pattern``
  with ``run_with_cache`` (optional extra ``patternlang[lens]``).
* :class:`HFAdapter` — Hugging Face causal LMs with eager attention: ``output_attentions=True``
  (optional extra ``patternlang[hf]``; load the model with ``attn_implementation="eager"``).

Every adapter returns patterns as ``Tensor[layers, n, heads, query, key]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from patternlang.errors import PatRuntimeError


@runtime_checkable
class AttentionModel(Protocol):
    """How the observation engine runs a model.

    ``vmappable`` says whether :meth:`run` may be called under ``torch.func.vmap`` over stacked
    chain parameters (otherwise the engine loops over chains with ``functional_call``).
    """

    vmappable: bool

    def run(self, model: nn.Module, tokens: Tensor, attention: bool) -> tuple[Tensor, Tensor | None]:
        """(logits, patterns [layers, n, H, q, k] or None when ``attention`` is False)."""
        ...

    def patterns(self, model: nn.Module, tokens: Tensor) -> Tensor:
        """The attention patterns of ``model`` on ``tokens``: [layers, n, H, q, k]."""
        ...


class _Base(ABC):
    vmappable = False

    @abstractmethod
    def run(self, model: nn.Module, tokens: Tensor, attention: bool) -> tuple[Tensor, Tensor | None]:
        """(logits, attention patterns or None): each adapter's own forward."""

    def patterns(self, model: nn.Module, tokens: Tensor) -> Tensor:
        _, pat = self.run(model, tokens, True)
        assert pat is not None
        return pat


def stacked_params(model: nn.Module, params: dict[str, Tensor]) -> dict[str, Tensor]:
    """Every parameter of ``model`` stacked ``[C, ...]``: the values in ``params`` (some or all
    names, already stacked), the model's own (expanded, no copy) for the others."""
    C = next(iter(params.values())).shape[0]
    return {k: params[k] if k in params else p.detach()[None].expand(C, *p.shape)
            for k, p in model.named_parameters()}


class AttnOnlyAdapter(_Base):
    """The stdlib attention-only transformer (attention from the same pass, vmap-safe)."""

    vmappable = True

    def run_chains(self, model, params: dict[str, Tensor], tokens: Tensor, attention: bool):
        """All chains in one natively batched pass, or None when the model has no
        ``chain_batched_forward``: (logits [C, n, T, V], patterns [C, layers, n, H, q, k] or None).
        ``params`` holds stacked ``[C, ...]`` values for some or all parameters; the model's own
        values stand in for the rest."""
        forward = getattr(model, "chain_batched_forward", None)
        if forward is None:
            return None
        full = stacked_params(model, params)
        C = next(iter(full.values())).shape[0]
        out = forward(full, tokens[None].expand(C, *tokens.shape), return_attention=attention)
        return out if attention else (out, None)

    def run(self, model, tokens, attention):
        if attention:
            return model(tokens, return_attention=True)
        return model(tokens), None


class LensAdapter(_Base):
    """TransformerLens ``HookedTransformer``: patterns from ``blocks.{l}.attn.hook_pattern``."""

    def run(self, model, tokens, attention):
        if not attention:
            return model(tokens), None
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
        pats = [cache[f"blocks.{layer}.attn.hook_pattern"] for layer in range(model.cfg.n_layers)]
        return logits, torch.stack(pats)


class HFAdapter(_Base):
    """Hugging Face causal LM: ``output_attentions=True`` (needs eager attention)."""

    def run(self, model, tokens, attention):
        out = model(input_ids=tokens, output_attentions=attention)
        if not attention:
            return out.logits, None
        atts = getattr(out, "attentions", None)
        if not atts or any(a is None for a in atts):
            raise PatRuntimeError(
                "observe", "the Hugging Face model returned no attention weights",
                "load it with attn_implementation='eager' (fused/SDPA attention hides the weights)")
        return out.logits, torch.stack(list(atts))


class LogitsOnlyAdapter(_Base):
    """Any other ``nn.Module`` mapping tokens to logits: no attention observables available."""

    def run(self, model, tokens, attention):
        if attention:
            raise PatRuntimeError(
                "observe", f"model {type(model).__name__} exposes no attention patterns",
                "use the stdlib attn_only model, a TransformerLens HookedTransformer, a Hugging Face "
                "model with eager attention, or give the model a `return_attention=True` forward")
        return model(tokens), None


def _is_lens(model: nn.Module) -> bool:
    return any(c.__name__ == "HookedTransformer" and c.__module__.startswith("transformer_lens")
               for c in type(model).__mro__)


def _is_hf(model: nn.Module) -> bool:
    return any(c.__name__ == "PreTrainedModel" and c.__module__.startswith("transformers")
               for c in type(model).__mro__)


def attention_adapter(model: nn.Module) -> AttentionModel:
    """The adapter for ``model``: an explicit ``model.attention_adapter`` attribute wins, then the
    stdlib transformer (anything whose forward takes ``return_attention``), TransformerLens, HF."""
    explicit = getattr(model, "attention_adapter", None)
    if explicit is not None:
        return explicit
    if _is_lens(model):
        return LensAdapter()
    if _is_hf(model):
        return HFAdapter()
    import inspect

    try:
        takes_flag = "return_attention" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        takes_flag = False
    if takes_flag:
        return AttnOnlyAdapter()
    return LogitsOnlyAdapter()

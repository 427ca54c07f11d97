"""The bring-your-own-model contract, checked when a train step builds its model, before training.

A model from a factory (``factory("mod:fn")``), TransformerLens or Hugging Face works with every
part of a plan when it offers what that plan uses:

* ``task``: ``"lm"`` (next-token logits ``[n, T, vocab]``) or ``"classify"`` (``[n, classes]``);
* ``vocab``: the vocabulary size (``vocab``, or ``cfg.d_vocab`` / ``config.vocab_size``);
* ``context``: the longest sequence it takes (``context``, or ``cfg.n_ctx`` /
  ``config.max_position_embeddings``); probes (repeated tokens for the induction score) are sized
  from it, never from a default;
* for attention observables: attention patterns ``[layers, n, heads, query, key]`` through an adapter
  (:mod:`patternlang.observables.attention`), rows summing to 1, and ``n_layers`` / ``n_heads``
  matching them;
* for per-head sampler restrictions (``restrict = ["l1h3"]``): ``head_parameters(layer, head)``
  returning ``{parameter name: index}``.

:func:`check_model` lists every missing piece in one error, each with what to add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from patternlang import registry
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import ObsExpr, Plan, SampleStep

_HEAD_SELECTOR = re.compile(r"^l(\d+|\*)h(\d+|\*)$")
ATTRS = {"vocab": ("vocab", "d_vocab", "vocab_size"),
         "context": ("context", "n_ctx", "max_position_embeddings", "n_positions"),
         "n_layers": ("n_layers", "num_hidden_layers", "n_layer"),
         "n_heads": ("n_heads", "num_attention_heads", "n_head")}


@dataclass(frozen=True)
class Needs:
    """What a plan asks of its model beyond task, vocab and context."""

    attention: bool = False  # an attention observable (induction score, ...)
    head_parameters: bool = False  # a per-head sampler restriction


def model_int(model: nn.Module, key: str) -> int | None:
    """The integer ``key`` (vocab, context, n_layers, n_heads) of ``model``: an attribute of the
    model, of its TransformerLens ``cfg`` or Hugging Face ``config`` (object or dict), under any of
    the names in :data:`ATTRS`."""
    for holder in (model, getattr(model, "cfg", None), getattr(model, "config", None)):
        for name in ATTRS[key]:
            value = holder.get(name) if isinstance(holder, dict) else getattr(holder, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def _prims(e: ObsExpr):
    if e.op == "prim" and e.name:
        yield e.name
    for o in e.operands:
        yield from _prims(o)


def _needs_attention(name: str) -> bool:
    prim = registry.get("observable", name)
    return prim is not None and "attention" in prim.meta.get("needs", ())


def plan_needs(plan: Plan) -> Needs:
    """What ``plan``'s observables and samplers ask of the model."""
    exprs = []
    for step in plan.steps:
        for attr in ("observables", "track"):
            exprs += [o.expr for o in getattr(step, attr, None) or []]
    attention = any(_needs_attention(n) for e in exprs for n in _prims(e))
    heads = any(_HEAD_SELECTOR.match(r) for s in plan.steps if isinstance(s, SampleStep)
                for r in s.sampler.restrict)
    return Needs(attention=attention, head_parameters=heads)


def _attention_problems(model: nn.Module, vocab: int, context: int) -> list[str]:
    from patternlang.observables.attention import LogitsOnlyAdapter, attention_adapter

    adapter = attention_adapter(model)
    if isinstance(adapter, LogitsOnlyAdapter):
        return ["attention patterns: the plan has attention observables but the model exposes none; "
                "use a forward(tokens, return_attention=True) returning (logits, [layers, n, heads, T, T]), "
                "a TransformerLens HookedTransformer, a Hugging Face model with eager attention, or set "
                "model.attention_adapter"]
    T = max(2, min(context, 8))
    tokens = torch.randint(vocab, (2, T), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pat = adapter.patterns(model, tokens)
    L, H = model_int(model, "n_layers"), model_int(model, "n_heads")
    out = []
    if pat.dim() != 5 or tuple(pat.shape[1:2]) + tuple(pat.shape[3:]) != (2, T, T):
        out.append(f"attention patterns: shape {tuple(pat.shape)} on tokens [2, {T}], expected "
                   f"[layers, 2, heads, {T}, {T}]")
    elif not torch.allclose(pat.sum(-1), torch.ones(()), atol=1e-3):
        out.append("attention patterns: rows do not sum to 1 (pass the softmax output, not scores)")
    elif (L, H) != (pat.shape[0], pat.shape[2]):
        out.append(f"n_layers / n_heads: the model says {L} / {H}, its attention patterns have "
                   f"{pat.shape[0]} / {pat.shape[2]}; set n_layers and n_heads")
    return out


def contract_problems(model: nn.Module, needs: Needs) -> list[str]:
    """Every piece of the contract ``model`` misses for ``needs``, one sentence each."""
    out = []
    if getattr(model, "task", None) not in ("lm", "classify"):
        out.append(f"task: model.task is {getattr(model, 'task', None)!r}; set it to 'lm' or 'classify'")
    vocab, context = model_int(model, "vocab"), model_int(model, "context")
    if vocab is None:
        out.append("vocab: no vocabulary size; set model.vocab (or cfg.d_vocab / config.vocab_size)")
    if context is None:
        out.append("context: no maximum sequence length; set model.context (or cfg.n_ctx / "
                   "config.max_position_embeddings)")
    if needs.attention and vocab is not None and context is not None:
        out += _attention_problems(model, vocab, context)
    if needs.head_parameters and not callable(getattr(model, "head_parameters", None)):
        out.append("head_parameters: the sampler restricts to heads (restrict = [\"l1h3\"]) but the "
                   "model has no head_parameters(layer, head) -> {parameter name: index}")
    return out


def check_model(model: nn.Module, plan: Plan, step_id: str) -> None:
    """Raise one :class:`PatRuntimeError` listing every missing piece (nothing has trained yet)."""
    problems = contract_problems(model, plan_needs(plan))
    if problems:
        raise PatRuntimeError(step_id, "the model does not meet the contract:\n  - " + "\n  - ".join(problems),
                              "add what is listed (docs/language.md, 'Bring your own model')")

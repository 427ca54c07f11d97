"""TransformerLens models as primitives (optional extra ``patternlang[lens]``, TransformerLens 3.x).

* ``lens_transformer(layers, heads, d_model, ...)`` builds a randomly initialised
  ``HookedTransformer`` from a ``HookedTransformerConfig`` (attention-only when ``d_mlp = 0``).
* ``lens_pretrained(path)`` loads a local Hugging Face ``save_pretrained`` directory (safetensors
  only, offline; see :func:`patternlang.models.hf.load_hf_directory`) and converts it with
  TransformerLens' own weight conversion (weights as saved: no layer-norm folding or centring), for every architecture TransformerLens converts (GPT-2, GPT-NeoX, Llama, ...).

Both return a :func:`lens_class` instance: a ``HookedTransformer`` subclass that adds the model
contract (``task``, ``vocab``, ``context``, ``n_layers``, ``n_heads``, ``head_parameters``). Its
``forward(tokens)`` returns logits, and the observation engine reads attention through the
TransformerLens adapter (``blocks.{l}.attn.hook_pattern``). TransformerLens keeps per-head weights
as ``W_Q: [heads, d_model, d_head]``, the layout of the stdlib transformer, so a head's parameters
are index ``head`` on dim 0 (:func:`~patternlang.models.attn_only.head_slices`).

TransformerLens 4.0 removed ``HookedTransformer`` (replaced by ``TransformerBridge``, which wraps a
Hugging Face model: use ``hf_causal_lm`` for those); the ``lens`` extra pins ``transformer-lens<4``.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Annotated, Any

import torch

from patternlang.errors import PatRuntimeError
from patternlang.extras import require
from patternlang.models.attn_only import head_slices
from patternlang.registry import Range, primitive

NORMALIZATIONS = ("none", "LN", "LNPre", "RMS", "RMSPre")
POSITIONALS = ("standard", "rotary", "shortformer")


@functools.lru_cache(maxsize=None)
def lens_class() -> type:
    """The ``HookedTransformer`` subclass with patternlang's model contract (built on first use, so
    importing patternlang does not import TransformerLens)."""
    HookedTransformer = require("transformer_lens", "lens", "model").HookedTransformer

    class LensLM(HookedTransformer):  # type: ignore[misc, valid-type]  # imported on first use
        """A TransformerLens ``HookedTransformer`` that also speaks patternlang's model contract."""

        task = "lm"

        @property
        def vocab(self) -> int:
            return int(self.cfg.d_vocab)

        @property
        def context(self) -> int:
            return int(self.cfg.n_ctx)

        @property
        def n_layers(self) -> int:
            return int(self.cfg.n_layers)

        @property
        def n_heads(self) -> int:
            return int(self.cfg.n_heads)

        def head_parameters(self, layer: int, head: int) -> dict[str, tuple]:
            """Names and index tuples of head ``head`` of ``layer`` (index ``head`` on dim 0)."""
            present = {n for n, _ in self.named_parameters()}
            found = head_slices(self.n_layers, self.n_heads, layer, head)
            return {n: i for n, i in found.items() if n in present}

    return LensLM


def _new(cfg: Any) -> Any:
    """A :func:`lens_class` instance of ``cfg``. TransformerLens 3 warns on every construction that
    ``HookedTransformer`` goes away in 4.0; the ``lens`` extra pins ``<4``, so that warning is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
        return lens_class()(cfg)


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise PatRuntimeError("model lens_transformer", f"{what} {value!r} is not one of {choices}",
                              f"use one of {', '.join(choices)}")


@primitive("model", task="lm")
def lens_transformer(layers: Annotated[int, Range(ge=1)] = 2, heads: Annotated[int, Range(ge=1)] = 4,
                     d_model: Annotated[int, Range(ge=1)] = 64, d_head: int = 0, d_mlp: int = 0,
                     context: Annotated[int, Range(ge=2)] = 64, vocab: Annotated[int, Range(ge=2)] = 64,
                     normalization: str = "none", act_fn: str = "gelu", positional: str = "standard",
                     seed: int = 0) -> Any:
    """A randomly initialised TransformerLens HookedTransformer (attention-only when d_mlp = 0).

    Args:
        layers: number of transformer blocks.
        heads: attention heads per block.
        d_model: residual stream width.
        d_head: width of each head; 0 means d_model // heads.
        d_mlp: MLP width; 0 means no MLPs (attention-only, the induction-circuit family).
        context: maximum sequence length (n_ctx).
        vocab: vocabulary size.
        normalization: none, LN, LNPre, RMS or RMSPre (TransformerLens normalization_type).
        act_fn: MLP activation (gelu, relu, silu, ...); unused when d_mlp = 0.
        positional: standard (learned), rotary or shortformer positional embeddings.
        seed: initialisation seed (the caller's random stream is left untouched).
    """
    _check_choice(normalization, NORMALIZATIONS, "normalization")
    _check_choice(positional, POSITIONALS, "positional")
    tl = require("transformer_lens", "lens", "model lens_transformer")
    cfg = tl.HookedTransformerConfig(
        n_layers=layers, d_model=d_model, n_ctx=context, n_heads=heads,
        d_head=d_head or max(1, d_model // heads), d_vocab=vocab, d_mlp=d_mlp or None,
        attn_only=d_mlp == 0, act_fn=act_fn if d_mlp else None,
        normalization_type=None if normalization == "none" else normalization,
        positional_embedding_type=positional, device="cpu", seed=None, default_prepend_bos=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _new(cfg)


@primitive("model", task="lm")
def lens_pretrained(path: str) -> Any:
    """A HookedTransformer converted from a local Hugging Face save_pretrained directory (offline).

    Args:
        path: the directory (config.json + *.safetensors), relative to the spec.
    """
    from patternlang.models.hf import load_hf_directory

    step = "model lens_pretrained"
    require("transformer_lens", "lens", step)
    hf_model = load_hf_directory(path, step)
    try:
        cfg, state = _convert(path, hf_model, step)
        cfg.tokenizer_name = None  # token ids come from the data components; never fetch a tokenizer
        model = _new(cfg)
    except (ValueError, NotImplementedError, KeyError, OSError, AttributeError) as exc:
        raise PatRuntimeError(step, f"TransformerLens cannot convert {path} ({exc})",
                              "use hf_pretrained(path) for architectures TransformerLens does not "
                              "convert offline") from exc
    model.load_and_process_state_dict(state, fold_ln=False, center_writing_weights=False,
                                      center_unembed=False, fold_value_biases=False)
    return model


def _convert(path: str, hf_model: Any, step: str) -> tuple[Any, dict]:
    """(HookedTransformerConfig, state dict in TransformerLens names) of a loaded HF model.

    GPT-2's config is mapped here (TransformerLens 3 reads ``n_ctx``, which transformers 5's
    ``GPT2Config`` no longer has) and its weights go through TransformerLens' ``convert_gpt2_weights``;
    every other architecture goes through TransformerLens' own local-directory loader."""
    tl = require("transformer_lens", "lens", step)
    c = hf_model.config
    if c.model_type == "gpt2":
        from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights

        cfg = tl.HookedTransformerConfig(
            d_model=c.n_embd, d_head=c.n_embd // c.n_head, n_heads=c.n_head,
            d_mlp=c.n_inner or 4 * c.n_embd, n_layers=c.n_layer, n_ctx=c.n_positions,
            eps=c.layer_norm_epsilon, d_vocab=c.vocab_size, act_fn=c.activation_function,
            use_attn_scale=c.scale_attn_weights, normalization_type="LN",
            scale_attn_by_inverse_layer_idx=c.scale_attn_by_inverse_layer_idx,
            original_architecture="GPT2LMHeadModel", device="cpu", default_prepend_bos=False)
        return cfg, convert_gpt2_weights(hf_model, cfg)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the conversion must not look anything up online
    loading = require("transformer_lens.loading_from_pretrained", "lens", step)
    cfg = loading.get_pretrained_model_config(path, device="cpu", default_prepend_bos=False)
    return cfg, loading.get_pretrained_state_dict(path, cfg, hf_model=hf_model)

"""Hugging Face causal language models as primitives (optional extra ``patternlang[hf]``).

* ``hf_causal_lm(arch, layers, heads, d_model, ...)`` builds a randomly initialised model of any
  ``transformers`` causal-LM architecture from a config (``AutoConfig.for_model``): nothing is
  downloaded.
* ``hf_pretrained(path)`` loads a local ``save_pretrained`` directory (``config.json`` + ``*.safetensors``)
  offline; weights are read only from safetensors (a ``pytorch_model.bin`` is a pickle and is never
  loaded) and no code from the directory is run (``trust_remote_code=False``).

Both return an :class:`HFCausalLM`: the Hugging Face model as the submodule ``hf`` (parameter names
``hf.<the model's own names>``), with the model contract every stdlib step relies on — ``task``,
``vocab``, ``context``, ``n_layers``, ``n_heads``, ``forward(tokens) -> logits`` and
``forward(tokens, return_attention=True) -> (logits, patterns [layers, n, heads, q, k])`` from the
same pass (eager attention, so the weights exist), and ``head_parameters(layer, head)`` for the
sampler's head restrictions (GPT-2, GPT-NeoX and Llama-style attention). Dropout is set to zero:
the sampler needs a deterministic loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
from torch import Tensor, nn

from patternlang.errors import PatRuntimeError
from patternlang.extras import require
from patternlang.registry import Range, primitive


class HFCausalLM(nn.Module):
    """A Hugging Face causal LM behind patternlang's model contract (see the module docstring).

    Args:
        hf_model: a ``transformers`` ``PreTrainedModel`` with a causal-LM head.
    """

    task = "lm"

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf: Any = hf_model
        cfg: Any = hf_model.config
        self.vocab = int(cfg.vocab_size)
        self.context = int(_config_value(cfg, "max_position_embeddings", "n_positions", "n_ctx"))
        self.n_layers = int(cfg.num_hidden_layers)
        self.n_heads = int(cfg.num_attention_heads)
        self.config = {"model_type": cfg.model_type, "vocab": self.vocab, "context": self.context,
                       "n_layers": self.n_layers, "n_heads": self.n_heads,
                       "d_model": int(cfg.hidden_size)}

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """tokens [n, T] -> logits [n, T, vocab] (and patterns [layers, n, heads, T, T])."""
        out = self.hf(input_ids=tokens, output_attentions=return_attention, use_cache=False)
        if not return_attention:
            return out.logits
        atts = getattr(out, "attentions", None)
        if not atts or any(a is None for a in atts):
            raise PatRuntimeError("observe", f"{type(self.hf).__name__} returned no attention weights",
                                  "use an architecture with eager attention support")
        return out.logits, torch.stack(list(atts))

    def head_parameters(self, layer: int, head: int) -> dict[str, tuple]:
        """Parameter names (with the ``hf.`` prefix) and index tuples owned by head ``head`` of
        ``layer``: the rows/columns of the fused or separate Q, K, V and output projections."""
        if not (0 <= layer < self.n_layers and 0 <= head < self.n_heads):
            raise ValueError(f"no head l{layer}h{head}: model has {self.n_layers} layers x "
                             f"{self.n_heads} heads")
        names = {n for n, _ in self.named_parameters()}
        for layout in (_gpt2_head, _neox_head, _llama_head):
            found = layout(self.hf.config, names, layer, head)
            if found:
                return found
        raise ValueError(f"head restrictions are not implemented for model_type "
                         f"{self.hf.config.model_type!r}; restrict by parameter-name globs instead")


def _config_value(cfg: Any, *names: str) -> int:
    for name in names:
        value = getattr(cfg, name, None)
        if isinstance(value, int):
            return value
    raise PatRuntimeError("model", f"the config of {cfg.model_type!r} has none of {names}",
                          "use a model with learned or bounded positions")


def _span(start: int, width: int) -> Tensor:
    return torch.arange(start, start + width)


def _gpt2_head(cfg, names: set[str], layer: int, head: int) -> dict[str, tuple]:
    """GPT-2: ``c_attn`` is a Conv1D ``[d, 3d]`` (Q|K|V column blocks), ``c_proj`` ``[d, d]``."""
    pre = f"hf.transformer.h.{layer}.attn."
    if pre + "c_attn.weight" not in names:
        return {}
    d, dh = cfg.hidden_size, cfg.hidden_size // cfg.num_attention_heads
    cols = torch.cat([_span(i * d + head * dh, dh) for i in range(3)])
    return {pre + "c_attn.weight": (slice(None), cols), pre + "c_attn.bias": (cols,),
            pre + "c_proj.weight": (_span(head * dh, dh),)}


def _neox_head(cfg, names: set[str], layer: int, head: int) -> dict[str, tuple]:
    """GPT-NeoX: ``query_key_value`` ``[3d, d]`` interleaved per head ([H, 3, dh] rows), ``dense`` ``[d, d]``."""
    pre = f"hf.gpt_neox.layers.{layer}.attention."
    if pre + "query_key_value.weight" not in names:
        return {}
    dh = cfg.hidden_size // cfg.num_attention_heads
    rows = _span(head * 3 * dh, 3 * dh)
    return {pre + "query_key_value.weight": (rows,), pre + "query_key_value.bias": (rows,),
            pre + "dense.weight": (slice(None), _span(head * dh, dh))}


def _llama_head(cfg, names: set[str], layer: int, head: int) -> dict[str, tuple]:
    """Llama, Mistral, Qwen2, ...: ``q_proj``/``k_proj``/``v_proj`` ``[heads * dh, d]`` rows,
    ``o_proj`` ``[d, heads * dh]`` columns; with grouped K/V a head owns its group's K/V rows."""
    pre = f"hf.model.layers.{layer}.self_attn."
    if pre + "q_proj.weight" not in names:
        return {}
    H = cfg.num_attention_heads
    dh = getattr(cfg, "head_dim", None) or cfg.hidden_size // H
    kv = (getattr(cfg, "num_key_value_heads", None) or H)
    q, k = _span(head * dh, dh), _span((head * kv // H) * dh, dh)
    out = {pre + "q_proj.weight": (q,), pre + "k_proj.weight": (k,), pre + "v_proj.weight": (k,),
           pre + "o_proj.weight": (slice(None), q)}
    for proj, rows in (("q_proj", q), ("k_proj", k), ("v_proj", k)):
        if pre + proj + ".bias" in names:
            out[pre + proj + ".bias"] = (rows,)
    return out


def _no_dropout(config: Any) -> Any:
    """Zero every dropout probability of a config (the sampler's loss must be deterministic)."""
    for key, value in config.to_dict().items():
        if ("drop" in key) and isinstance(value, float):
            setattr(config, key, 0.0)
    return config


def _eager(config: Any) -> Any:
    config._attn_implementation = "eager"  # attention weights are returned only by eager attention
    return config


@primitive("model", task="lm")
def hf_causal_lm(arch: str = "gpt2", layers: Annotated[int, Range(ge=1)] = 2,
                 heads: Annotated[int, Range(ge=1)] = 4, d_model: Annotated[int, Range(ge=1)] = 64,
                 d_mlp: int = 0, context: Annotated[int, Range(ge=2)] = 64,
                 vocab: Annotated[int, Range(ge=2)] = 64, seed: int = 0) -> HFCausalLM:
    """A randomly initialised Hugging Face causal LM of architecture `arch` (no download).

    Args:
        arch: a transformers model type with a causal-LM head: gpt2, gpt_neox, llama, ...
        layers: number of transformer blocks.
        heads: attention heads per block.
        d_model: residual stream width (hidden_size).
        d_mlp: MLP width; 0 means the architecture's default (4 d_model for GPT-2).
        context: maximum sequence length (max_position_embeddings).
        vocab: vocabulary size.
        seed: initialisation seed (the caller's random stream is left untouched).
    """
    transformers = require("transformers", "hf", "model hf_causal_lm")
    sizes: dict[str, Any] = dict(vocab_size=vocab, hidden_size=d_model, num_hidden_layers=layers,
                                 num_attention_heads=heads, max_position_embeddings=context,
                                 bos_token_id=0, eos_token_id=0)
    if d_mlp:
        sizes["n_inner" if arch == "gpt2" else "intermediate_size"] = d_mlp
    try:
        config = transformers.AutoConfig.for_model(arch, **sizes)
    except (ValueError, KeyError) as exc:
        raise PatRuntimeError("model hf_causal_lm", f"unknown architecture {arch!r} ({exc})",
                              "use a transformers model type such as gpt2, gpt_neox or llama") from exc
    config = _eager(_no_dropout(config))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    return HFCausalLM(model)


def load_hf_directory(path: str, step: str) -> nn.Module:
    """The ``transformers`` causal LM saved in the local ``save_pretrained`` directory ``path``:
    offline, safetensors only, no remote code, eager attention, dropout zeroed."""
    transformers = require("transformers", "hf", step)
    root = Path(path)
    if not (root / "config.json").is_file():
        raise PatRuntimeError(step, f"{path} is not a save_pretrained directory (no config.json)",
                              "point at the directory model.save_pretrained(...) wrote")
    if not any(root.glob("*.safetensors")):
        raise PatRuntimeError(step, f"{path} holds no *.safetensors weights (pickled "
                              "pytorch_model.bin files are never loaded: they can run code)",
                              "re-save it with model.save_pretrained(path, safe_serialization=True)")
    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True,
                                                     trust_remote_code=False)
    config = _eager(_no_dropout(config))
    return transformers.AutoModelForCausalLM.from_pretrained(
        path, config=config, local_files_only=True, use_safetensors=True, trust_remote_code=False,
        attn_implementation="eager")


@primitive("model", task="lm")
def hf_pretrained(path: str) -> HFCausalLM:
    """A Hugging Face causal LM from a local save_pretrained directory (safetensors only, offline).

    Args:
        path: the directory (config.json + *.safetensors), relative to the spec.
    """
    return HFCausalLM(load_hf_directory(path, "model hf_pretrained"))

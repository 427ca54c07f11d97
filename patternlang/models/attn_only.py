"""The stdlib attention-only transformer (the model family of the induction-circuit experiments).

Parameters follow TransformerLens' layout so that head ``h`` of a layer is index ``h`` on dim 0 of
that layer's attention weights; restricting the sampler to one head is then an index, not a reshape::

    embed.W_E        [vocab, d_model]
    pos_embed.W_pos  [context, d_model]
    blocks.{l}.attn.W_Q, W_K, W_V   [H, d_model, d_head]
    blocks.{l}.attn.b_Q, b_K, b_V   [H, d_head]
    blocks.{l}.attn.W_O             [H, d_head, d_model]
    blocks.{l}.attn.b_O             [d_model]
    ln_final.w, ln_final.b          [d_model]   (only with ``final_ln=True``)
    unembed.W_U      [d_model, vocab]
    unembed.b_U      [vocab]

The forward pass is a pure function of parameters and input (no buffers mutated, no hooks needed), so
it runs under ``torch.func.functional_call`` and ``vmap`` over stacked chains. Attention patterns come
back from the same pass with ``return_attention=True``.

:func:`~patternlang.models.attn_chain.attn_only_forward` (:mod:`.attn_chain`) is the same network
written natively in chain-batched form: every parameter has a leading chain dim ``[C, ...]`` and the
tokens are ``[C, n, T]``. The module's own ``forward`` is that function with ``C = 1``, so a plain
forward+backward and a chain-batched SGLD step run the same kernels. The sampler uses it through the
``chain_batched_forward`` protocol (:meth:`AttnOnlyTransformer.chain_batched_forward`). For
restricted sampling on less work it also runs in stages (``chain_batched_prefix`` /
``chain_batched_suffix``: the observer's frozen-prefix cache) and
head by head (``chain_batched_heads``, ``chain_batched_head_forward``: :mod:`.attn_heads`).
"""

from __future__ import annotations

import math
from typing import Annotated

import torch

from patternlang.errors import PatRuntimeError
from patternlang.models.attn_chain import (attention_batched, attn_only_forward, attn_only_residual,
                                           attn_only_suffix, head_outputs)
from patternlang.models.attn_heads import head_split_forward
from torch import Tensor, nn

from patternlang.registry import Range, primitive


class HeadWeights(nn.Module):
    """Per-head attention weights in TransformerLens' layout (head ``h`` is index ``h`` on dim 0),
    shared by every stdlib attention module so head restrictions and adapters see one layout."""

    def __init__(self, d_model: int, n_heads: int, d_head: int):
        super().__init__()
        scale = 1.0 / math.sqrt(d_model)
        self.W_Q = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_K = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_V = nn.Parameter(torch.randn(n_heads, d_model, d_head) * scale)
        self.W_O = nn.Parameter(torch.randn(n_heads, d_head, d_model) / math.sqrt(d_head * n_heads))
        self.b_Q = nn.Parameter(torch.zeros(n_heads, d_head))
        self.b_K = nn.Parameter(torch.zeros(n_heads, d_head))
        self.b_V = nn.Parameter(torch.zeros(n_heads, d_head))
        self.b_O = nn.Parameter(torch.zeros(d_model))
        self.d_head = d_head


def head_slices(n_layers: int, n_heads: int, layer: int, head: int) -> dict[str, tuple]:
    """The parameters of head ``head`` of layer ``layer`` in a model whose layer ``l`` keeps its
    :class:`HeadWeights` at ``blocks.{l}.attn``: each name with the index tuple of that head."""
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        raise ValueError(f"no head l{layer}h{head}: model has {n_layers} layers x {n_heads} heads")
    pre = f"blocks.{layer}.attn."
    return {pre + n: (head,) for n in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V")}


class Attention(HeadWeights):
    """Causal multi-head attention with per-head weight tensors."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: [n, T, d_model] -> (output [n, T, d_model], pattern [n, H, T_query, T_key])."""
        params = {name: p[None] for name, p in self.named_parameters()}
        out, pattern = attention_batched(x[None], params, "", need_pattern=True)
        return out[0], pattern[0]


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_head: int):
        super().__init__()
        self.attn = Attention(d_model, n_heads, d_head)


class Embed(nn.Module):
    def __init__(self, vocab: int, d_model: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(vocab, d_model) * 0.02 * math.sqrt(d_model) / 4)


class PosEmbed(nn.Module):
    def __init__(self, context: int, d_model: int):
        super().__init__()
        self.W_pos = nn.Parameter(torch.randn(context, d_model) * 0.02 * math.sqrt(d_model) / 4)


class Unembed(nn.Module):
    def __init__(self, d_model: int, vocab: int):
        super().__init__()
        self.W_U = nn.Parameter(torch.randn(d_model, vocab) / math.sqrt(d_model))
        self.b_U = nn.Parameter(torch.zeros(vocab))


class LayerNorm(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d_model))
        self.b = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w, self.b)


class AttnOnlyTransformer(nn.Module):
    """A causal attention-only transformer language model.

    Args:
        vocab: vocabulary size.
        d_model: residual stream width.
        n_layers: number of attention layers.
        n_heads: heads per layer.
        d_head: width of each head (default ``d_model // n_heads``).
        context: maximum sequence length (learned positional embeddings).
        final_ln: apply a LayerNorm before the unembedding.
        seed: initialisation seed (the module is deterministic given it).
    """

    task = "lm"

    def __init__(self, vocab: int = 64, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 d_head: int | None = None, context: int = 64, final_ln: bool = False,
                 seed: int | None = 0):
        super().__init__()
        d_head = d_head or max(1, d_model // n_heads)
        self.config = dict(vocab=vocab, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                           d_head=d_head, context=context, final_ln=final_ln)
        self.n_layers, self.n_heads, self.d_head = n_layers, n_heads, d_head
        self.vocab, self.context = vocab, context
        # initialise from `seed` without touching the caller's random stream
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.embed = Embed(vocab, d_model)
            self.pos_embed = PosEmbed(context, d_model)
            self.blocks = nn.ModuleList(Block(d_model, n_heads, d_head) for _ in range(n_layers))
            self.ln_final = LayerNorm(d_model) if final_ln else None
            self.unembed = Unembed(d_model, vocab)

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """tokens: LongTensor[n, T] -> logits [n, T, vocab] (and attention [layers, n, H, T, T])."""
        self._check_context(tokens.shape[-1])
        params = {name: p[None] for name, p in self.named_parameters()}
        out = attn_only_forward(params, tokens[None], self.n_layers, self.ln_final is not None,
                                return_attention)
        if return_attention:
            return out[0][0], out[1][0]
        return out[0]

    def chain_batched_forward(self, params: dict[str, Tensor], tokens: Tensor,
                              return_attention: bool = False):
        """Logits ``[C, n, T, vocab]`` of C parameter sets ``{name: [C, *shape]}`` on tokens ``[C, n, T]``
        (and, with ``return_attention``, patterns ``[C, layers, n, H, T, T]``).

        The protocol the sampler and the observation engine look for (``chain_batched_forward``):
        with it, every chain runs through one natively batched pass instead of ``vmap`` of
        :meth:`forward`.
        """
        self._check_context(tokens.shape[-1])
        return attn_only_forward(params, tokens, self.n_layers, self.ln_final is not None,
                                 return_attention)

    def prefix_stages(self) -> list[tuple[str, ...]]:
        """The parameters each stage of the forward pass reads, in order: the embeddings, then each
        attention layer. The residual stream after stage ``s`` depends only on stages ``0..s`` (the
        frozen-prefix protocol of :mod:`patternlang.observables.prefix_cache`)."""
        stages: list[tuple[str, ...]] = [("embed.W_E", "pos_embed.W_pos")]
        for layer in range(self.n_layers):
            stages.append(tuple(f"blocks.{layer}.attn.{n}" for n in
                                ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O")))
        return stages

    def chain_batched_prefix(self, params: dict[str, Tensor], tokens: Tensor, depth: int,
                             return_attention: bool = False) -> tuple[Tensor, list]:
        """The residual stream ``[C, n, T, d_model]`` after the first ``depth`` stages of
        :meth:`prefix_stages` (``depth >= 1``), and those attention layers' patterns (``None`` each
        without ``return_attention``): :meth:`chain_batched_suffix` continues from it."""
        self._check_context(tokens.shape[-1])
        return attn_only_residual(params, tokens, depth - 1, return_attention)

    def chain_batched_suffix(self, params: dict[str, Tensor], residual: Tensor, depth: int,
                             return_attention: bool = False, patterns: list | None = None):
        """What :meth:`chain_batched_forward` returns, continued from ``residual``, the output of
        :meth:`chain_batched_prefix` with the same ``depth`` (and its ``patterns``): the same kernels
        on the same values, so the same numbers bit for bit."""
        return attn_only_suffix(params, residual, depth - 1, self.n_layers, self.ln_final is not None,
                                return_attention, patterns)

    def chain_batched_heads(self, params: dict[str, Tensor], residual: Tensor, layer: int,
                            heads: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        """Heads ``heads`` of attention layer ``layer`` on the residual stream ``[C, n, T, d_model]``
        entering it: their outputs ``z [C, n*T, h*d_head]``, output weights ``W_O [C, h*d_head,
        d_model]`` and the layer's bias ``b_O [C, 1, d_model]``. The layer adds ``b_O + z @ W_O``
        summed over all its heads (used by :mod:`patternlang.observables.head_delta`)."""
        pre = f"blocks.{layer}.attn."
        z, W_O, _ = head_outputs(residual, params, pre, False, heads)
        return z, W_O, params[pre + "b_O"][:, None, :]

    def chain_batched_head_forward(self, params: dict[str, Tensor], tokens: Tensor, layer: int,
                                   heads: list[int]) -> Tensor:
        """:meth:`chain_batched_forward`'s logits when only heads ``heads`` of layer ``layer`` carry
        gradients: the frozen rest runs without autograd (see :mod:`.attn_heads`; equal within float
        reassociation). The sampler uses it for head-restricted runs."""
        self._check_context(tokens.shape[-1])
        return head_split_forward(self, params, tokens, layer, heads)

    def readout_parameters(self) -> tuple[str, ...]:
        """The parameters after the last attention layer (final LayerNorm, unembedding)."""
        return tuple(n for n, _ in self.named_parameters() if n.startswith(("ln_final.", "unembed.")))

    def linear_readout(self, params: dict[str, Tensor]) -> Tensor | None:
        """``W_U [C, d_model, vocab]`` when the logits are the last residual stream times it plus
        ``b_U`` (no final LayerNorm), else ``None``."""
        return None if self.ln_final is not None else params["unembed.W_U"]

    def _check_context(self, T: int) -> None:
        if T > self.context:
            raise PatRuntimeError("model", f"sequence length {T} exceeds the model context "
                                  f"{self.context}", "give the model a context at least as long "
                                  "as the data's sequences (or shorten the data)")

    def head_parameters(self, layer: int, head: int) -> dict[str, tuple]:
        """Parameter names and index tuples owned by head ``head`` of layer ``layer``."""
        return head_slices(self.n_layers, self.n_heads, layer, head)


#: Upper bounds ``patc check`` enforces: far above any model this family is run at (CPU scale), and
#: below the sizes whose per-layer/per-head overhead makes a run hang without a word (a forward and
#: backward pass costs about 0.6 ms per layer in dispatch alone: 100,000 layers never start).
MAX_LAYERS, MAX_HEADS = 1024, 4096


@primitive("model", task="lm")
def attn_only(layers: Annotated[int, Range(ge=1, le=MAX_LAYERS)] = 2,
              heads: Annotated[int, Range(ge=1, le=MAX_HEADS)] = 4,
              d_model: Annotated[int, Range(ge=1)] = 64, d_head: int = 0,
              context: Annotated[int, Range(ge=2)] = 64, vocab: Annotated[int, Range(ge=2)] = 64,
              final_ln: bool = False, seed: int = 0) -> AttnOnlyTransformer:
    """An attention-only transformer language model (no MLPs), the induction-circuit model family.

    Args:
        layers: number of attention layers.
        heads: attention heads per layer.
        d_model: residual stream width.
        d_head: width of each head; 0 means d_model // heads.
        context: maximum sequence length.
        vocab: vocabulary size.
        final_ln: apply a LayerNorm before the unembedding.
        seed: initialisation seed.
    """
    return AttnOnlyTransformer(vocab=vocab, d_model=d_model, n_layers=layers, n_heads=heads,
                               d_head=d_head or None, context=context, final_ln=final_ln, seed=seed)

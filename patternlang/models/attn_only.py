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

:func:`attn_only_forward` is the same network written natively in chain-batched form: every parameter
has a leading chain dim ``[C, ...]`` and the tokens are ``[C, n, T]``; each matmul carries the chain
index as a batch dim (one ``bmm`` per weight instead of ``vmap``'s rewritten kernels). The module's own
``forward`` is that function with ``C = 1``, so a plain forward+backward and a chain-batched SGLD step
run the same kernels. The sampler uses it through the ``chain_batched_forward`` protocol
(:meth:`AttnOnlyTransformer.chain_batched_forward`). For restricted sampling on less work it also runs
in stages (``chain_batched_prefix`` / ``chain_batched_suffix``: the observer's frozen-prefix cache) and
head by head (``chain_batched_heads``, ``chain_batched_head_forward``: :mod:`.attn_heads`).
"""

from __future__ import annotations

import math
from typing import Annotated

import torch

from patternlang.errors import PatRuntimeError
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
        out, pattern = _attention_batched(x[None], params, "", need_pattern=True)
        return out[0], pattern[0]


def _heads_to_cols(W: Tensor) -> Tensor:
    """[C, H, d_model, d_head] -> [C, d_model, H*d_head] (one matmul computes every head)."""
    C, H, D, E = W.shape
    return W.permute(0, 2, 1, 3).reshape(C, D, H * E)


def _is_vmapped(t: Tensor) -> bool:
    """True inside a ``torch.func`` transform (``vmap`` has no batching rule for the fused attention)."""
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))


def _head_outputs(x: Tensor, p: dict[str, Tensor], pre: str, need_pattern: bool,
                  heads: list[int] | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
    """The heads' outputs before the output projection: (z [C, n*T, h*E], W_O [C, h*E, D], pattern
    [C, n, h, T, T] or None) for every head, or only ``heads``; the layer adds b_O + z @ W_O."""
    C, n, T, D = x.shape
    E = p[pre + "b_Q"].shape[2]
    pick = (lambda t: t) if heads is None else (lambda t: t[:, heads])  # noqa: E731
    H = p[pre + "b_Q"].shape[1] if heads is None else len(heads)
    W = torch.cat([_heads_to_cols(pick(p[pre + k])) for k in ("W_Q", "W_K", "W_V")], dim=2)  # [C, D, 3HE]
    b = torch.cat([pick(p[pre + k]).reshape(C, 1, H * E) for k in ("b_Q", "b_K", "b_V")], dim=2)
    qkv = torch.baddbmm(b, x.reshape(C, n * T, D), W).view(C, n, T, 3, H, E)
    # unbind (not three selects): its backward stacks the three gradients in one buffer, where each
    # select's backward zero-fills a full-size [C, n, T, 3, H, E] tensor (same values, ~2 % of a step)
    q, k, v = (t.transpose(2, 3) for t in qkv.unbind(3))  # [C, n, H, T, E]
    if need_pattern or _is_vmapped(x):  # functorch has no batching rule for the fused kernel
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(E)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        pattern = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        z = pattern @ v
    else:  # the fused kernel: same numbers to float tolerance, no [T, T] pattern kept for backward
        pattern = None
        qf, kf, vf = (t.reshape(C * n, H, T, E) for t in (q, k, v))
        z = nn.functional.scaled_dot_product_attention(qf, kf, vf, is_causal=True).view(C, n, H, T, E)
    z = z.transpose(2, 3).reshape(C, n * T, H * E)  # [C, n*T, H*E]
    return z, pick(p[pre + "W_O"]).reshape(C, H * E, D), pattern


def _attention_batched(x: Tensor, p: dict[str, Tensor], pre: str,
                       need_pattern: bool) -> tuple[Tensor, Tensor | None]:
    """Chain-batched causal attention: x [C, n, T, D] -> (out [C, n, T, D], pattern [C, n, H, T, T])."""
    z, W_O, pattern = _head_outputs(x, p, pre, need_pattern)
    out = torch.baddbmm(p[pre + "b_O"][:, None, :], z, W_O)
    return out.view(x.shape), pattern


def attn_only_forward(params: dict[str, Tensor], tokens: Tensor, n_layers: int, final_ln: bool = False,
                      return_attention: bool = False):
    """The attention-only LM with a chain dim: ``params[name]: [C, *shape]``, tokens ``[C, n, T]``.

    Returns logits ``[C, n, T, vocab]`` (and, with ``return_attention``, patterns
    ``[C, layers, n, H, T, T]``). Chains never interact: chain ``c``'s logits depend only on chain
    ``c``'s parameters and tokens, so the gradient of a sum over chains is the stack of per-chain
    gradients.
    """
    x, patterns = attn_only_residual(params, tokens, n_layers, return_attention)
    return attn_only_suffix(params, x, n_layers, n_layers, final_ln, return_attention, patterns)


def attn_only_residual(params: dict[str, Tensor], tokens: Tensor, layers: int,
                       return_attention: bool = False) -> tuple[Tensor, list]:
    """The residual stream ``[C, n, T, d_model]`` after the embeddings and the first ``layers``
    attention layers (and those layers' patterns, or ``None`` each, without ``return_attention``)."""
    C, n, T = tokens.shape
    W_E = params["embed.W_E"]
    V, D = W_E.shape[1:]
    offsets = (torch.arange(C, device=tokens.device) * V).view(C, 1, 1)
    x = nn.functional.embedding(tokens + offsets, W_E.reshape(C * V, D))  # [C, n, T, D]
    x = x + params["pos_embed.W_pos"][:, None, :T]
    return _layers(params, x, range(layers), return_attention)


def _layers(params: dict[str, Tensor], x: Tensor, layers: range, return_attention: bool) -> tuple[Tensor, list]:
    patterns = []
    for layer in layers:
        out, pattern = _attention_batched(x, params, f"blocks.{layer}.attn.", return_attention)
        x = x + out
        patterns.append(pattern)
    return x, patterns


def attn_only_suffix(params: dict[str, Tensor], x: Tensor, start: int, n_layers: int, final_ln: bool = False,
                     return_attention: bool = False, patterns: list | None = None):
    """The rest of :func:`attn_only_forward` from the residual ``x`` after layer ``start - 1``
    (``start = 0``: after the embeddings): layers ``start..n_layers-1``, then the unembedding.
    ``patterns`` are the first ``start`` layers' patterns (needed with ``return_attention``)."""
    x, later = _layers(params, x, range(start, n_layers), return_attention)
    if final_ln:
        D = x.shape[-1]
        w, b = params["ln_final.w"][:, None, None], params["ln_final.b"][:, None, None]
        x = nn.functional.layer_norm(x, (D,)) * w + b
    C, n, T, D = x.shape
    logits = torch.baddbmm(params["unembed.b_U"][:, None, :], x.reshape(C, n * T, D), params["unembed.W_U"])
    logits = logits.view(C, n, T, -1)
    if return_attention:
        return logits, torch.stack(list(patterns or []) + later, dim=1)
    return logits


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
        z, W_O, _ = _head_outputs(residual, params, pre, False, heads)
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

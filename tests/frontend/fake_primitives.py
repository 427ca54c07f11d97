"""Stand-ins for the catalogue's primitives (docs/architecture.md), registered only where the real
ones are missing, so the front end can be tested before (and independently of) the engine.

Signatures follow the catalogue; bodies raise, because the checker never calls a primitive."""

from __future__ import annotations

from typing import Annotated

from patternlang import registry
from patternlang.registry import ComponentName, Heads, Range, primitive

Pos = Annotated[int, Range(ge=1)]
Vocab = Annotated[int, Range(ge=2)]


def _fake(*_a, **_k):
    raise NotImplementedError("fake primitive (front-end tests only)")


def _register(kind: str, fn, **meta) -> None:
    if registry.get(kind, fn.__name__) is None:
        primitive(kind, skip=1 if kind == "observable" else 0, **meta)(fn)


# -- models -------------------------------------------------------------------------------------
def attn_only(layers: Pos = 2, heads: Pos = 4, d_model: Pos = 64, d_head: int = 0,
              context: Annotated[int, Range(ge=2)] = 64, vocab: Vocab = 64):
    """An attention-only transformer language model.

    Args:
        layers: number of attention layers.
        heads: attention heads per layer.
        d_model: residual stream width.
        d_head: width of each head; 0 means d_model // heads.
        context: maximum sequence length.
        vocab: vocabulary size.
    """
    _fake()


def parens_transformer(layers: Pos = 1, heads: Pos = 1, d_model: Pos = 16,
                       context: Annotated[int, Range(ge=2)] = 42, mlp: bool = True):
    """A small transformer classifier for balanced parentheses."""
    _fake()


# -- data ---------------------------------------------------------------------------------------
def uniform_tokens(vocab: Vocab = 64, length: Annotated[int, Range(ge=2)] = 32):
    """Uniformly random token sequences."""
    _fake()


def markov_text(vocab: Vocab = 64, length: Annotated[int, Range(ge=2)] = 32, order: Pos = 1,
                seed: int = 0):
    """Text from a random Markov chain of the given order."""
    _fake()


def repeated_spans(vocab: Vocab = 64, length: Annotated[int, Range(ge=2)] = 32, period: Pos = 8):
    """Random spans of `period` tokens, repeated to fill the sequence."""
    _fake()


def zipf_tokens(vocab: Vocab = 64, length: Annotated[int, Range(ge=2)] = 32,
                exponent: Annotated[float, Range(gt=0)] = 1.0):
    """Tokens drawn i.i.d. from a Zipf law."""
    _fake()


def python_code(vocab: Vocab = 256, length: Annotated[int, Range(ge=2)] = 32):
    """Python standard-library source code."""
    _fake()


def python_prose(vocab: Vocab = 256, length: Annotated[int, Range(ge=2)] = 32):
    """Docstrings of the Python standard library."""
    _fake()


def text_file(path: str, vocab: Vocab = 256, length: Annotated[int, Range(ge=2)] = 32):
    """Sequences cut from a text file."""
    _fake()


def token_file(path: str, length: Annotated[int, Range(ge=2)] = 32):
    """Sequences cut from a file of token ids."""
    _fake()


def parens(min_len: Pos = 2, max_len: Pos = 40, depth: Pos = 20, negatives: str = "both",
           label: str = "balanced"):
    """Parentheses strings labelled balanced or not."""
    _fake()


# -- observables --------------------------------------------------------------------------------
def loss(ctx, component: ComponentName):
    """Mean loss on a data component's probe set."""
    _fake()


def token_loss(ctx, component: ComponentName, position: Annotated[int, Range(ge=0)] = 0):
    """Loss at one token position of a component's probe set."""
    _fake()


def llc(ctx):
    """The local learning coefficient estimate at each draw."""
    _fake()


def induction_score(ctx, layer: Annotated[int, Range(ge=0)] = 1, heads: Heads = "*",
                    period: Pos = 8):
    """Attention of each head on the token after the previous occurrence of the current token."""
    _fake()


def previous_token_score(ctx, layer: Annotated[int, Range(ge=0)] = 0, heads: Heads = "*"):
    """Attention of each head on the previous token."""
    _fake()


def duplicate_token_score(ctx, layer: Annotated[int, Range(ge=0)] = 0, heads: Heads = "*",
                          period: Pos = 8):
    """Attention of each head on earlier copies of the current token."""
    _fake()


def icl_score(ctx, component: ComponentName, early: Pos = 2, late: Pos = 30):
    """In-context learning score: late-token loss minus early-token loss."""
    _fake()


def p_balanced_ood(ctx):
    """Probability of 'balanced' on equal-count, badly nested strings."""
    _fake()


def nested_agreement(ctx):
    """Agreement with the NESTED rule on strings where the two rules differ."""
    _fake()


def equal_count_agreement(ctx):
    """Agreement with the EQUAL-COUNT rule on strings where the two rules differ."""
    _fake()


def install() -> None:
    """Register every fake whose name the real registry lacks."""
    for fn in (attn_only,):
        _register("model", fn, task="lm")
    _register("model", parens_transformer, task="classify")
    for fn in (uniform_tokens, markov_text, repeated_spans, zipf_tokens, python_code, python_prose,
               text_file, token_file, parens):
        _register("data", fn)
    for fn in (loss, token_loss, llc, p_balanced_ood, nested_agreement, equal_count_agreement, icl_score):
        _register("observable", fn, shape="scalar", needs=())
    for fn in (induction_score, previous_token_score, duplicate_token_score):
        _register("observable", fn, shape="per_head", needs=("attention",))


if __name__ == "__main__":  # `python tests/frontend/fake_primitives.py check specs/*.pat`
    import sys

    install()
    from patternlang.cli import main

    sys.exit(main(sys.argv[1:]))

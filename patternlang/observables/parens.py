"""Rule observables for the balanced-parentheses task: which rule did the model learn?

Training data hold only strings that satisfy both rules or neither, where

* EQUAL-COUNT: as many "(" as ")";
* NESTED: equal counts *and* no prefix with more ")" than "(" (depth never below zero),

so both rules fit them. Strings with equal counts but bad nesting ("())(" or "(()))(()" — which
starts with "(" and dips below zero later) split the rules: EQUAL-COUNT calls them balanced, NESTED
does not. The observables read the classifier on probes of such strings.

Token convention (shared with ``patternlang.data.parens``): pad = 0, "(" = 1, ")" = 2, CLS = 3 at
position 0; padded to the model context; the classifier returns logits ``[n, 2]``, class 1 =
balanced. Probe batches carry ``label`` (the NESTED label), ``equal`` and ``nested`` flags.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor

from patternlang.errors import PatRuntimeError
from patternlang.observables.context import EvalContext
from patternlang.registry import Range, primitive

PAD, OPEN, CLOSE, CLS = 0, 1, 2, 3


def _depths(steps: Tensor) -> Tensor:
    return steps.cumsum(-1)


def _random_string(g: torch.Generator, length: int, kind: str) -> Tensor:
    """One string of ±1 steps of even ``length``: kind ``nested`` (Dyck word), ``bad`` (equal
    counts, depth dips below zero), ``bad_open`` (a bad one that starts with "("), ``unequal``."""
    m = length // 2
    for _ in range(10_000):
        if kind == "unequal":
            steps = torch.where(torch.rand(length, generator=g) < 0.5, 1, -1)
            if steps.sum() != 0:
                return steps
            continue
        steps = torch.tensor([1] * m + [-1] * m)[torch.randperm(length, generator=g)]
        low = _depths(steps).min()
        if kind == "nested" and low >= 0:
            return steps
        if kind == "bad" and low < 0:
            return steps
        if kind == "bad_open" and low < 0 and steps[0] == 1:
            return steps
    raise PatRuntimeError("observe", f"could not draw a {kind!r} parentheses string of length "
                          f"{length}", "use max_len >= 4")


def parens_probe(g: torch.Generator, n: int, kinds: list[str], min_len: int, max_len: int,
                 width: int) -> dict[str, Tensor]:
    """``n`` strings cycling through ``kinds``, even lengths in [min_len, max_len], encoded with CLS
    and padded to ``width`` tokens."""
    lengths = list(range(max(2, min_len + min_len % 2), max_len + 1, 2))
    if not lengths or max_len + 1 > width:
        raise PatRuntimeError("observe", f"no even length in [{min_len}, {max_len}] fits "
                              f"{width} tokens", "choose 2 <= min_len <= max_len < context")
    tokens = torch.full((n, width), PAD)
    tokens[:, 0] = CLS
    equal, nested = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        L = lengths[int(torch.randint(len(lengths), (1,), generator=g))]
        L = max(L, 4) if kind == "bad_open" else L
        steps = _random_string(g, L, kind)
        tokens[i, 1:L + 1] = torch.where(steps > 0, OPEN, CLOSE)
        equal[i] = steps.sum() == 0
        nested[i] = bool(equal[i]) and bool(_depths(steps).min() >= 0)
    return {"tokens": tokens, "mask": tokens != PAD, "label": nested.long(), "equal": equal,
            "nested": nested}


def _probe(ctx: EvalContext, name: str, kinds: list[str], min_len: int, max_len: int) -> str:
    width = getattr(ctx.model, "context", None) or (max_len + 1)
    if ctx.task != "classify":
        raise PatRuntimeError("observe", f"{name} needs a classifier (task 'classify'), got "
                              f"{ctx.task!r}", "use it with the parens_transformer model")
    key = f"__parens_{name}_{min_len}_{max_len}"
    return ctx.special(key, lambda g: parens_probe(g, ctx.probe_size, kinds, min_len, max_len, width))


def _p_balanced(ctx: EvalContext, key: str) -> Tensor:
    return ctx.run(key).logits.softmax(-1)[..., 1]  # [C, n]


@primitive("observable", skip=1, shape="scalar", needs=("logits",),
           probe="equal-count, badly nested strings (parens_ood)", chance="0.5 (a coin flip)")
def p_balanced_ood(ctx: EvalContext, min_len: Annotated[int, Range(ge=2)] = 4,
                   max_len: Annotated[int, Range(ge=4)] = 16) -> Tensor:
    """Mean P(balanced) on equal-count but badly nested strings (half of them start with "(" and
    dip below zero later): ≈ 1 for an EQUAL-COUNT model, ≈ 0 for a NESTED one.

    Args:
        min_len: shortest probe string.
        max_len: longest probe string.
    """
    key = _probe(ctx, "ood", ["bad", "bad_open"], min_len, max_len)
    return _p_balanced(ctx, key).mean(-1)


def _agreement(ctx: EvalContext, rule: str, min_len: int, max_len: int) -> Tensor:
    key = _probe(ctx, "rules", ["nested", "bad", "bad_open", "unequal"], min_len, max_len)
    p = _p_balanced(ctx, key)
    says = ctx.batch(key)[rule].to(p.dtype)  # 1 where the rule calls the string balanced
    return (says * p + (1 - says) * (1 - p)).mean(-1)


@primitive("observable", skip=1, shape="scalar", needs=("logits",),
           probe="nested, badly nested and unequal-count strings in equal parts",
           chance="0.5 (a coin flip)")
def nested_agreement(ctx: EvalContext, min_len: Annotated[int, Range(ge=2)] = 4,
                     max_len: Annotated[int, Range(ge=4)] = 16) -> Tensor:
    """Mean probability the classifier gives to the NESTED rule's answer, on a probe of nested,
    badly nested (half starting with "(") and unequal-count strings in equal parts.

    Args:
        min_len: shortest probe string.
        max_len: longest probe string.
    """
    return _agreement(ctx, "nested", min_len, max_len)


@primitive("observable", skip=1, shape="scalar", needs=("logits",),
           probe="nested, badly nested and unequal-count strings in equal parts",
           chance="0.5 (a coin flip)")
def equal_count_agreement(ctx: EvalContext, min_len: Annotated[int, Range(ge=2)] = 4,
                          max_len: Annotated[int, Range(ge=4)] = 16) -> Tensor:
    """Mean probability the classifier gives to the EQUAL-COUNT rule's answer, on the same probe as
    ``nested_agreement``. Where the rules agree (nested and unequal strings) the two agreements
    coincide; on the badly nested half they sum to 1.

    Args:
        min_len: shortest probe string.
        max_len: longest probe string.
    """
    return _agreement(ctx, "equal", min_len, max_len)

"""Balanced-parentheses classification in the style of Li et al. (2025), for choosing an algorithm.

Two rules label a string "balanced":

* EQUAL-COUNT: as many ``(`` as ``)``.
* NESTED: equal counts *and* the running depth (altitude: +1 per ``(``, -1 per ``)``) never goes
  below zero.

Training strings satisfy **both rules or neither** (label 1 = balanced and nested; label 0 = unequal
counts, hence not nested either), so both rules fit the training data perfectly. An
out-of-distribution probe of *equal-count but badly nested* strings tells them apart: EQUAL-COUNT
says balanced, NESTED says not. The probe must contain strings that start with ``(`` and dip below
zero later: a model that merely rejects strings starting with ``)`` looks NESTED on a probe of
``)``-first strings only.

Components split the training data by properties — length, maximum depth, and the *kind* of negative:

* ``never_dips``: depth never below zero, too many ``(`` at the end (rejecting these needs the count;
  a "never dips" check alone accepts them);
* ``starts_close``: first character ``)`` (depth -1 at once);
* ``dips_early`` / ``dips_late``: starts with ``(``, first goes below zero in the first / second
  half of the string;
* ``any``: every unequal-count string equally likely.

Strings have even length (so parity is no shortcut to EQUAL-COUNT). Within a kind and a length every
string is equally likely: sampling follows exact path counts (dynamic programming over
(position, depth)), not rejection. Tokens: pad=0, ``(``=1, ``)``=2, CLS=3 at position 0; sequences
are padded to a fixed ``context`` with a ``mask`` of the real tokens.
"""

from __future__ import annotations

from typing import Annotated, Sequence

import torch
from torch import Tensor

from patternlang.data.component import ComponentError, GeneratedComponent
from patternlang.registry import Range, primitive

PAD, OPEN, CLOSE, CLS = 0, 1, 2, 3
VOCAB = 4
NEGATIVE_KINDS = ("any", "never_dips", "starts_close", "dips_early", "dips_late")
OOD_KINDS = ("mixed", "starts_open", "starts_close")


# ---------------------------------------------------------------------------------------------
# Rules


def _steps(s: str | Sequence[int] | Tensor) -> list[int]:
    """+1 / -1 per bracket of a string ``"(()"`` or a token sequence (pad and CLS ignored)."""
    if isinstance(s, str):
        if set(s) - {"(", ")"}:
            raise ValueError(f"not a parentheses string: {s!r}")
        return [1 if c == "(" else -1 for c in s]
    toks = s.tolist() if isinstance(s, Tensor) else list(s)
    return [1 if t == OPEN else -1 for t in toks if t in (OPEN, CLOSE)]


def is_equal_count(s: str | Sequence[int] | Tensor) -> bool:
    """EQUAL-COUNT: as many opening as closing brackets."""
    return sum(_steps(s)) == 0


def is_nested(s: str | Sequence[int] | Tensor) -> bool:
    """NESTED: equal counts and no prefix with more closing than opening brackets."""
    depth = 0
    for step in _steps(s):
        depth += step
        if depth < 0:
            return False
    return depth == 0


def first_dip(s: str | Sequence[int] | Tensor) -> int | None:
    """Index of the first bracket at which the depth goes below zero (None if it never does)."""
    depth = 0
    for i, step in enumerate(_steps(s)):
        depth += step
        if depth < 0:
            return i
    return None


def decode(tokens: Tensor) -> list[str]:
    """Token rows ``[n, T]`` back to strings."""
    return ["".join("(" if t == OPEN else ")" for t in row.tolist() if t in (OPEN, CLOSE))
            for row in tokens]


# ---------------------------------------------------------------------------------------------
# Exact uniform sampling of depth paths
#
# A string is a path of +1/-1 steps. Each class is a small automaton over (depth, dipped): which
# depths are allowed, where the *first dip* below zero may happen, whether it must happen, and which
# final depths are accepted. Counting completions backwards from the end gives, at every state, the
# exact number of valid strings through it; stepping up with probability count(up) / count(here)
# then draws every string of the class (and length) with equal probability.


def _first_dips(kind: str, L: int) -> set[int] | None:
    """Bracket indices at which the first dip may happen (None = anywhere)."""
    evens = set(range(2, L - 1, 2))
    return {"starts_close": {0}, "ood_starts_close": {0},
            "dips_early": {t for t in evens if t < L // 2},
            "dips_late": {t for t in evens if t >= L // 2},
            "ood_starts_open": evens}.get(kind)


# class -> (may dip, must dip, accepted final depths)
_CLASSES = {"positive": (False, False, "zero"), "never_dips": (False, False, "positive"),
            "any": (True, False, "nonzero"), "starts_close": (True, True, "nonzero"),
            "dips_early": (True, True, "nonzero"), "dips_late": (True, True, "nonzero"),
            "ood_starts_open": (True, True, "zero"), "ood_starts_close": (True, True, "zero")}


def _count_table(cls: str, L: int, Lmax: int, hi: int) -> Tensor:
    """counts[p, 1 + depth - lo, dipped] of valid completions after p brackets (lo = -Lmax)."""
    may_dip, must_dip, end = _CLASSES[cls]
    lo = -Lmax
    depth = torch.arange(lo - 1, hi + 2)  # one guard column each side
    valid = (depth >= lo) & (depth <= hi)
    valid_d = [valid & (depth >= 0), valid & may_dip]  # states (depth, not dipped / dipped)
    ok_end = {"zero": depth == 0, "nonzero": depth != 0, "positive": depth > 0}[end]
    c = torch.zeros(Lmax + 1, len(depth), 2, dtype=torch.float64)
    c[L, :, 0] = (ok_end & valid_d[0] & (not must_dip)).double()
    c[L, :, 1] = (ok_end & valid_d[1]).double()
    dips = _first_dips(cls, L)
    zero = int((depth == 0).nonzero())
    for p in range(L - 1, -1, -1):
        nxt = c[p + 1]
        here = torch.zeros_like(nxt)
        here[1:-1, :] = nxt[2:, :] + nxt[:-2, :]  # up + down, same dipped flag
        here[zero, 0] = nxt[zero + 1, 0]  # from depth 0 undipped, down is the first dip:
        if may_dip and (dips is None or p in dips):
            here[zero, 0] += nxt[zero - 1, 1]
        here[:, 0] *= valid_d[0]
        here[:, 1] *= valid_d[1]
        c[p] = here
    return c


class _PathSampler:
    """Uniform strings of one class, for each even length in a set, all lengths in one pass."""

    def __init__(self, cls: str, lengths: list[int], hi: int):
        self.Lmax = max(lengths)
        tables = [_count_table(cls, L, self.Lmax, hi) for L in lengths]
        self.zero = self.Lmax + 1  # column of depth 0
        keep = [i for i, t in enumerate(tables) if t[0, self.zero, 0] > 0]
        self.lengths = torch.tensor([lengths[i] for i in keep], dtype=torch.long)
        self.counts = torch.stack([tables[i] for i in keep]) if keep else None

    def feasible(self) -> bool:
        return self.counts is not None

    def sample(self, n: int, g: torch.Generator) -> Tensor:
        """[n, Lmax] steps: +1, -1, then 0 after the string's length."""
        pick = torch.randint(0, len(self.lengths), (n,), generator=g)
        L = self.lengths[pick]
        col = torch.full((n,), self.zero, dtype=torch.long)
        dipped = torch.zeros(n, dtype=torch.long)
        steps = torch.zeros(n, self.Lmax, dtype=torch.long)
        for p in range(self.Lmax):
            u = torch.rand(n, generator=g, dtype=torch.float64)
            here = self.counts[pick, p, col, dipped].clamp_min(1.0)
            up = self.counts[pick, p + 1, col + 1, dipped] / here
            step = torch.where(u < up, 1, -1) * (p < L)
            steps[:, p] = step
            col = col + step
            dipped = dipped | (col < self.zero).long()
        return steps


def _encode(steps: Tensor, context: int) -> tuple[Tensor, Tensor]:
    n, L = steps.shape
    tokens = torch.zeros(n, context, dtype=torch.long)
    tokens[:, 0] = CLS
    tokens[:, 1:L + 1] = torch.where(steps > 0, OPEN, torch.where(steps < 0, CLOSE, PAD))
    return tokens, tokens != PAD


class ParensGenerator:
    """Strings of class ``cls`` with even lengths uniform in ``[min_len, max_len]`` (among lengths
    where the class is non-empty) and depth at most ``depth`` (0 = no limit), in ``context`` tokens."""

    def __init__(self, name: str, cls: str, min_len: int, max_len: int, depth: int, context: int):
        if max_len + 1 > context:
            raise ComponentError(name, f"max_len {max_len} + CLS does not fit context {context}",
                                 f"use context >= {max_len + 1}")
        evens = [L for L in range(max(2, min_len), max_len + 1) if L % 2 == 0]
        self.sampler = _PathSampler(cls, evens, depth if depth > 0 else max_len) if evens else None
        if self.sampler is None or not self.sampler.feasible():
            raise ComponentError(name, f"no string of class '{cls}' has an even length in "
                                 f"[{min_len}, {max_len}] and depth <= {depth or 'any'}",
                                 "widen the length range or raise the depth limit")
        self.context = context

    def __call__(self, n: int, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """(tokens [n, context], mask [n, context], lengths [n])."""
        tokens, mask = _encode(self.sampler.sample(n, g), self.context)
        return tokens, mask, mask.sum(1) - 1


@primitive("data")
def parens(min_len: Annotated[int, Range(ge=2)] = 2, max_len: Annotated[int, Range(ge=2)] = 20,
           depth: Annotated[int, Range(ge=0)] = 0, negatives: str = "any",
           label: Annotated[int, Range(ge=0, le=1)] = 1,
           context: Annotated[int, Range(ge=3)] = 32) -> GeneratedComponent:
    """Parentheses training strings that satisfy both EQUAL-COUNT and NESTED (label 1) or neither
    (label 0), uniform within each even length; lengths uniform over the even numbers in range.

    Args:
        min_len: shortest string (brackets, CLS not counted).
        max_len: longest string.
        depth: largest depth any prefix may reach; 0 means no limit.
        negatives: for label 0, the kind of negative: any, never_dips, starts_close, dips_early
            or dips_late (see the module docs); ignored for label 1.
        label: 1 for balanced-and-nested strings, 0 for unequal-count strings.
        context: padded sequence length (CLS + brackets + padding).
    """
    if label == 0 and negatives not in NEGATIVE_KINDS:
        raise ComponentError("parens", f"unknown negative kind {negatives!r}",
                             f"use one of {', '.join(NEGATIVE_KINDS)}")
    cls = "positive" if label == 1 else negatives
    gen = ParensGenerator("parens", cls, min_len, max_len, depth, context)

    def fn(n: int, g: torch.Generator) -> dict[str, Tensor]:
        tokens, mask, _ = gen(n, g)
        return {"tokens": tokens, "mask": mask, "label": torch.full((n,), label, dtype=torch.long)}

    return GeneratedComponent("parens", fn, task="classify", vocab_size=VOCAB, seq_len=context)


@primitive("data")
def parens_ood(min_len: Annotated[int, Range(ge=2)] = 2, max_len: Annotated[int, Range(ge=2)] = 20,
               depth: Annotated[int, Range(ge=0)] = 0, kind: str = "mixed",
               context: Annotated[int, Range(ge=3)] = 32) -> GeneratedComponent:
    """The rule probe: equal-count strings that are not nested (EQUAL-COUNT says 1, NESTED says 0).

    ``label`` is the NESTED answer (0) and ``label_ec`` the EQUAL-COUNT answer (1); ``starts_open``
    marks rows whose first bracket is ``(`` (their depth dips below zero later).

    Args:
        min_len: shortest string.
        max_len: longest string.
        depth: largest depth any prefix may reach; 0 means no limit.
        kind: mixed (half start with "(" and dip later, half start with ")"), starts_open
            or starts_close.
        context: padded sequence length.
    """
    if kind not in OOD_KINDS:
        raise ComponentError("parens_ood", f"unknown probe kind {kind!r}",
                             f"use one of {', '.join(OOD_KINDS)}")
    gens = {k: ParensGenerator("parens_ood", "ood_" + k, min_len, max_len, depth, context)
            for k in ("starts_open", "starts_close") if kind in (k, "mixed")}

    def fn(n: int, g: torch.Generator) -> dict[str, Tensor]:
        sizes = [n - n // 2, n // 2] if kind == "mixed" else [n]
        parts = [gen(c, g) for gen, c in zip(gens.values(), sizes)]
        tokens = torch.cat([p[0] for p in parts])
        return {"tokens": tokens, "mask": torch.cat([p[1] for p in parts]),
                "label": torch.zeros(n, dtype=torch.long),
                "label_ec": torch.ones(n, dtype=torch.long),
                "starts_open": tokens[:, 1] == OPEN}

    return GeneratedComponent("parens_ood", fn, task="classify", vocab_size=VOCAB, seq_len=context)

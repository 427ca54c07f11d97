"""A small byte-level BPE tokenizer, trained locally in pure Python (no downloads, no new deps).

Training (Sennrich et al. 2016, byte-level as in GPT-2): split text into *words* with a regex
(letters, digits, other symbols, whitespace runs; a leading space sticks to the word after it), count
words, then repeatedly merge the most frequent adjacent pair of symbols into a new symbol until the
vocabulary is full. Pair counts are updated incrementally and the best pair comes from a heap, so a
few hundred merges over a megabyte of text take seconds. Ties are broken by the smaller pair, so
training is deterministic.

Vocabulary layout: with ``vocab >= 257`` the first 256 ids are the bytes and the rest are merges, and
``decode(encode(s)) == s`` for every string. A smaller vocabulary keeps only the ``vocab - 1`` most
frequent bytes of the training text (then merges, if room is left) and maps every other byte to an
``<unk>`` id, the last one.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from typing import Iterable

WORD_RE = re.compile(rb"\s?[A-Za-z_]+|\s?[0-9]+|\s?[^\sA-Za-z_0-9]+|\s+(?!\S)|\s+")
FORMAT = "patternlang-bpe-1"


def words_of(data: bytes) -> list[bytes]:
    """The pre-tokenised words of ``data`` (concatenating them gives ``data`` back)."""
    return WORD_RE.findall(data)


class BPETokenizer:
    """A trained tokenizer: base bytes, ordered merges and an optional ``<unk>`` id.

    Args:
        base: byte values of ids ``0 .. len(base)-1``.
        merges: pairs of ids; merge ``r`` creates id ``len(base) + r``.
        vocab: total vocabulary size (``<unk>`` is ``vocab - 1`` when some byte is missing).
    """

    def __init__(self, base: list[int], merges: list[tuple[int, int]], vocab: int):
        self.base, self.merges, self.vocab = list(base), [tuple(m) for m in merges], vocab
        self.byte_id = {b: i for i, b in enumerate(self.base)}
        self.unk = None if len(self.base) == 256 else vocab - 1
        self.rank = {m: r for r, m in enumerate(self.merges)}
        self.pieces: list[bytes] = [bytes([b]) for b in self.base]
        for a, b in self.merges:
            self.pieces.append(self.pieces[a] + self.pieces[b])
        if self.unk is not None:
            self.pieces.append("\ufffd".encode())
        if len(self.pieces) > vocab:
            raise ValueError(f"tokenizer has {len(self.pieces)} ids, more than vocab {vocab}")
        self._cache: dict[bytes, list[int]] = {}

    # -- encoding --------------------------------------------------------------------------
    def _encode_word(self, word: bytes) -> list[int]:
        ids = [self.byte_id.get(b, self.unk) for b in word]
        while len(ids) > 1:
            r, _ = min((self.rank.get(p, len(self.rank)), i) for i, p in enumerate(zip(ids, ids[1:])))
            if r == len(self.rank):
                break
            ids = _merge(ids, self.merges[r], len(self.base) + r)  # type: ignore[arg-type]
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        out: list[int] = []
        for w in words_of(text.encode("utf-8")):
            ids = self._cache.get(w)
            if ids is None:
                ids = self._cache[w] = self._encode_word(w)
            out.extend(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (invalid UTF-8 from a cut multi-byte character becomes U+FFFD)."""
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")

    # -- persistence -----------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "vocab": self.vocab, "base": self.base,
                           "merges": [list(m) for m in self.merges]})

    @classmethod
    def from_json(cls, text: str) -> "BPETokenizer":
        d = json.loads(text)
        if d.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} tokenizer file")
        return cls(d["base"], [tuple(m) for m in d["merges"]], d["vocab"])


def _merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _base_bytes(counts: Counter, vocab: int) -> list[int]:
    if vocab >= 257:
        return list(range(256))
    freq: Counter = Counter()
    for w, c in counts.items():
        for b in w:
            freq[b] += c
    return sorted(freq, key=lambda b: (-freq[b], b))[:vocab - 1]


def train_bpe(text: str | bytes, vocab: int) -> BPETokenizer:
    """Train a tokenizer with ``vocab`` ids on ``text`` (see the module docs)."""
    if vocab < 2:
        raise ValueError("vocab must be at least 2")
    data = text.encode("utf-8") if isinstance(text, str) else text
    counts = Counter(words_of(data))
    base = _base_bytes(counts, vocab)
    n_merges = vocab - 256 if vocab >= 257 else vocab - 1 - len(base)
    byte_id = {b: i for i, b in enumerate(base)}
    unk = -1  # never merged
    words = [[byte_id.get(b, unk) for b in w] for w in counts]
    freqs = list(counts.values())
    merges = _learn_merges(words, freqs, n_merges, len(base), unk)
    return BPETokenizer(base, merges, vocab)


def _learn_merges(words: list[list[int]], freqs: list[int], n_merges: int, first_id: int,
                  unk: int) -> list[tuple[int, int]]:
    stats: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            if unk not in p:
                stats[p] += freqs[i]
                where[p].add(i)
    heap = [(-c, p) for p, c in stats.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if stats.get(pair, 0) != -negc or negc >= 0:
            continue  # stale heap entry
        new = first_id + len(merges)
        merges.append(pair)
        touched: set[tuple[int, int]] = set()
        for i in sorted(where.pop(pair, ())):
            w, f = words[i], freqs[i]
            for p in zip(w, w[1:]):
                if unk not in p:
                    stats[p] -= f
                    touched.add(p)
            w = words[i] = _merge(w, pair, new)
            for p in zip(w, w[1:]):
                if unk not in p:
                    stats[p] += f
                    where[p].add(i)
                    touched.add(p)
        stats.pop(pair, None)
        for p in touched:
            if stats.get(p, 0) > 0:
                heapq.heappush(heap, (-stats[p], p))
    return merges

"""Tokenizer build time on the Python standard-library corpus (python_code + python_prose, ~1.5 MB):
the pure-Python BPE (``patternlang.data.bpe``) against the ``tokenizers`` library
(``patternlang.data.fast_bpe``), each training on the corpus and encoding all of it, measured in
the same run. ``ratio`` is pure-Python seconds / tokenizers seconds at the largest vocabulary
(above 1: the library is faster). The corpus text itself is built (or read from the cache) once,
outside the timings.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/tokenizer_build.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time


def _chunks(text: str, size: int = 4096) -> list[str]:
    """Pieces of about ``size`` characters cut after a newline (the library encodes a batch of
    pieces much faster than one megabyte-long string)."""
    out, i = [], 0
    while i < len(text):
        j = text.find("\n", i + size)
        j = len(text) if j < 0 else j + 1
        out.append(text[i:j])
        i = j
    return out


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(quick: bool) -> None:
    try:
        from patternlang.data import fast_bpe
        fast_bpe.train_tokenizer(["warm up"], 10)
    except Exception as exc:  # the data extra is not installed
        print(json.dumps({"bench": "tokenizer_build", "ratio": None, "skipped": str(exc)[:80]}))
        return
    from patternlang.data.bpe import train_bpe
    from patternlang.data.text import stdlib_text

    code, prose, _ = stdlib_text()
    pieces = _chunks(code) + _chunks(prose)
    rows = {}
    for vocab in ((64, 256) if quick else (64, 256, 5000)):
        def pure():
            tok = train_bpe(code + prose, vocab)
            tok.encode(code), tok.encode(prose)

        def fast():
            tok = fast_bpe.train_tokenizer(pieces, vocab)
            tok.encode_batch(pieces, add_special_tokens=False)

        rows[vocab] = {"pure_s": round(_best(pure, 2), 3), "tokenizers_s": round(_best(fast, 2), 3)}
        print(f"vocab {vocab:5d}: pure-Python {rows[vocab]['pure_s']:.2f} s, "
              f"tokenizers {rows[vocab]['tokenizers_s']:.2f} s (train + encode {len(code) + len(prose)} "
              "characters)")
    top = rows[max(rows)]
    print(json.dumps({"bench": "tokenizer_build", "ratio": round(top["pure_s"] / top["tokenizers_s"], 2),
                      "by_vocab": rows}))


if __name__ == "__main__":
    main("--quick" in sys.argv)

"""Byte-level BPE with the Hugging Face ``tokenizers`` library (optional extra ``patternlang[data]``).

The same recipe as the pure-Python :mod:`patternlang.data.bpe` (GPT-2 style: a regex splits text
into words, a leading space sticks to the next word; bytes are the alphabet; the most frequent
adjacent pair is merged until the vocabulary is full), trained and applied by the library's Rust
code. Ids:

* ``0`` is ``<|endoftext|>``, put between documents when a corpus is encoded;
* with ``vocab >= 258`` all 256 bytes are in the alphabet, so ``decode(encode(s)) == s``;
* with a smaller vocabulary the alphabet keeps the ``vocab - 2`` most frequent characters of the
  training text and id ``1`` is ``<unk>`` for every other one (the CPU-sized models use vocab 64).

A trained tokenizer is a ``tokenizer.json`` any ``tokenizers``/``transformers`` user can load;
:func:`load_tokenizer` reads such a file. Training is deterministic for a given corpus and
``tokenizers`` version (the cache keys of :mod:`patternlang.data.hf` include that version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from patternlang.data.component import ComponentError
from patternlang.extras import require

EOT, UNK = "<|endoftext|>", "<unk>"
FORMAT = "patternlang-fast-bpe-1"


def _lib(step: str) -> Any:
    return require("tokenizers", "data", step)


def train_tokenizer(texts: Iterable[str], vocab: int, step: str = "tokenizer") -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` with ``vocab`` ids trained on ``texts``."""
    if vocab < 3:
        raise ComponentError(step, f"vocab {vocab} leaves no room for tokens",
                             "use vocab >= 3 (<|endoftext|>, <unk> and at least one character)")
    tk = _lib(step)
    small = vocab < 258
    tok = tk.Tokenizer(tk.models.BPE(unk_token=UNK if small else None))
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    if small:
        trainer = tk.trainers.BpeTrainer(vocab_size=vocab, special_tokens=[EOT, UNK],
                                         limit_alphabet=vocab - 2, show_progress=False)
    else:
        trainer = tk.trainers.BpeTrainer(vocab_size=vocab, special_tokens=[EOT],
                                         initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
                                         show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def load_tokenizer(path: str | Path, step: str = "tokenizer") -> Any:
    """A ``tokenizers.Tokenizer`` from a local ``tokenizer.json`` (never downloaded)."""
    tk = _lib(step)
    try:
        return tk.Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises a bare Exception for unreadable files
        raise ComponentError(step, f"cannot read {path} as a tokenizers tokenizer.json ({exc})",
                             "save one with Tokenizer.save(path) or tokenizer.save_pretrained(dir)"
                             ) from exc


def encode_documents(tok: Any, texts: Sequence[str]) -> np.ndarray:
    """Token ids of ``texts`` as one stream, ``<|endoftext|>`` between documents when the
    tokenizer has that token (int32)."""
    sep = tok.token_to_id(EOT)
    parts: list[np.ndarray] = []
    for enc in tok.encode_batch(list(texts), add_special_tokens=False):
        parts.append(np.asarray(enc.ids, dtype=np.int32))
        if sep is not None:
            parts.append(np.asarray([sep], dtype=np.int32))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)

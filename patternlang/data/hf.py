"""Hugging Face ``datasets`` as a data component (optional extra ``patternlang[data]``).

``hf_dataset(path, split, column, vocab, length)`` reads a text column from

* a local dataset directory written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``
  (``datasets.load_from_disk``; a ``DatasetDict`` is indexed by ``split``), or
* one ``.json`` / ``.jsonl`` / ``.parquet`` / ``.csv`` / ``.txt`` file, through the ``datasets``
  packaged loaders (``load_dataset("json", data_files={split: path})``; a ``.txt`` file's column
  is ``text``, one row per line),

offline (``HF_DATASETS_OFFLINE=1`` / ``HF_HUB_OFFLINE=1`` are set before ``datasets`` is imported;
nothing is ever downloaded), tokenizes every row with a byte-level BPE from the ``tokenizers``
library — trained on the rows (:func:`patternlang.data.fast_bpe.train_tokenizer`) or read from a
local ``tokenizer.json`` (``tokenizer_path``) — and samples random windows of ``length`` tokens
from the rows joined by ``<|endoftext|>``.

The token stream and the tokenizer are cached under ``$PATTERNLANG_CACHE/hfdata-<key>/``, where the
key hashes the data's bytes (every file of a dataset directory), ``split``, ``column``,
``max_rows``, the tokenizer (the ``tokenizer.json`` bytes, or the training recipe and ``vocab``),
and the ``datasets`` and ``tokenizers`` versions: change any of them and the component is rebuilt.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from patternlang.data import fast_bpe
from patternlang.data.cache import atomic_write, cache_dir, content_hash, settings_key
from patternlang.data.component import ComponentError, StreamComponent
from patternlang.extras import require
from patternlang.registry import Range, primitive

_LOADERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}
_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
_MEMO: dict[tuple[str, str], np.ndarray] = {}
_STEP = "hf_dataset"


def _datasets() -> Any:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # read by datasets when it is imported
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lib = require("datasets", "data", f"data {_STEP}")
    lib.utils.logging.disable_progress_bar()
    return lib


def _open(lib: Any, p: Path, split: str) -> Any:
    """The ``datasets.Dataset`` of ``split`` at ``p`` (a save_to_disk directory or one file)."""
    if p.is_dir():
        if not any((p / m).exists() for m in _MARKERS):
            raise ComponentError(p.name, f"{p} is not a dataset saved with save_to_disk (none of "
                                 f"{', '.join(_MARKERS)})", "point at the directory "
                                 "Dataset.save_to_disk wrote, or at one json/jsonl/parquet/csv/txt file")
        ds = lib.load_from_disk(str(p))
        if isinstance(ds, lib.DatasetDict):
            if split not in ds:
                raise ComponentError(p.name, f"the dataset has no split {split!r}",
                                     f"use one of {sorted(ds)}")
            ds = ds[split]
        return ds
    builder = _LOADERS.get(p.suffix.lower())
    if builder is None:
        raise ComponentError(p.name, f"no datasets loader for {p.suffix!r} files",
                             f"use one of {sorted(_LOADERS)} or a save_to_disk directory")
    return lib.load_dataset(builder, data_files={split: str(p)}, split=split,
                            cache_dir=str(cache_dir() / "hf-datasets"))


def load_texts(path: str, split: str = "train", column: str = "text", max_rows: int = 0) -> list[str]:
    """The non-empty strings of ``column`` in ``split`` of the dataset at ``path`` (offline)."""
    p = Path(path)
    ds = _open(_datasets(), p, split)
    if column not in ds.column_names:
        raise ComponentError(p.name, f"the dataset has no column {column!r}",
                             f"use one of {ds.column_names}")
    if max_rows:
        ds = ds.select(range(min(max_rows, len(ds))))
    values = ds[column]
    bad = next((v for v in values if v is not None and not isinstance(v, str)), None)
    if bad is not None:
        raise ComponentError(p.name, f"column {column!r} holds {type(bad).__name__} values, not text",
                             "name a column of strings")
    texts = [v for v in values if v]
    if not texts:
        raise ComponentError(p.name, f"column {column!r} of split {split!r} holds no text",
                             "check the split, the column and max_rows")
    return texts


def _cache_key(p: Path, split: str, column: str, max_rows: int, vocab: int,
               tokenizer_path: str) -> str:
    versions = {"datasets": _datasets().__version__,
                "tokenizers": require("tokenizers", "data", f"data {_STEP}").__version__}
    tokenizer = ({"file": content_hash(Path(tokenizer_path))} if tokenizer_path
                 else {"train": fast_bpe.FORMAT, "vocab": vocab})
    return settings_key({"format": "patternlang-hfdata-1", "data": content_hash(p), "split": split,
                         "column": column, "max_rows": max_rows, "tokenizer": tokenizer,
                         "versions": versions})


def _build(p: Path, split: str, column: str, max_rows: int, vocab: int,
           tokenizer_path: str) -> tuple[np.ndarray, Any]:
    """(token stream, tokenizer) of the dataset column, tokenized now."""
    texts = load_texts(str(p), split, column, max_rows)
    if tokenizer_path:
        tok = fast_bpe.load_tokenizer(tokenizer_path, p.name)
        size = tok.get_vocab_size()
        if size > vocab:
            raise ComponentError(p.name, f"the tokenizer at {tokenizer_path} has {size} ids, more "
                                 f"than vocab={vocab}", f"set vocab={size} (or more) and give the "
                                 "model the same vocab")
    else:
        tok = fast_bpe.train_tokenizer(texts, vocab, p.name)
    return fast_bpe.encode_documents(tok, texts), tok


def tokenized_dataset(path: str, split: str, column: str, vocab: int, tokenizer_path: str = "",
                      max_rows: int = 0) -> np.ndarray:
    """The cached token stream of a dataset column (see the module docstring for the key)."""
    p = Path(path)
    if not p.exists():
        raise ComponentError(p.name, f"{path} does not exist",
                             "check the path (relative paths are relative to the spec)")
    key = _cache_key(p, split, column, max_rows, vocab, tokenizer_path)
    d = cache_dir() / f"hfdata-{key}"
    memo = (key, str(d))
    if memo in _MEMO:
        return _MEMO[memo]
    if (d / "tokens.npy").exists() and (d / "tokenizer.json").exists():
        ids = np.load(d / "tokens.npy", allow_pickle=False)
    else:
        ids, tok = _build(p, split, column, max_rows, vocab, tokenizer_path)
        buf = io.BytesIO()
        np.save(buf, ids, allow_pickle=False)
        atomic_write(d / "tokens.npy", buf.getvalue())
        atomic_write(d / "tokenizer.json", tok.to_str().encode())  # last: marks the entry complete
    _MEMO[memo] = ids
    return ids


@primitive("data")
def hf_dataset(path: str, split: str = "train", column: str = "text",
               vocab: Annotated[int, Range(ge=3)] = 256, length: Annotated[int, Range(ge=2)] = 32,
               tokenizer_path: str = "", max_rows: Annotated[int, Range(ge=0)] = 0) -> StreamComponent:
    """A text column of a local Hugging Face dataset, BPE-tokenised with the tokenizers library.

    Args:
        path: a save_to_disk dataset directory, or one json/jsonl/parquet/csv/txt file.
        split: the split to read (a DatasetDict key; the split name given to a single file).
        column: the column of text to train on (a txt file's column is text).
        vocab: vocabulary size: of the tokenizer trained on the column, or, with tokenizer_path,
            the model's vocabulary (at least the tokenizer's size).
        length: window length in tokens.
        tokenizer_path: a local tokenizer.json to use instead of training one.
        max_rows: read only the first max_rows rows (0: all of them).
    """
    ids = tokenized_dataset(path, split, column, vocab, tokenizer_path, max_rows)
    return StreamComponent(Path(path).stem, torch.from_numpy(ids.astype(np.int64)), length, vocab)

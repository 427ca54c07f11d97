"""Real text on every machine, no downloads: the Python standard library, and user files.

* ``python_code``: the standard library's source with docstrings and comments removed.
* ``python_prose``: its docstrings and comments (English prose about code).
* ``text_file``: any UTF-8 text file; ``token_file``: a ``.npy`` / ``.safetensors`` of token ids.

The standard library lives at ``sysconfig.get_paths()['stdlib']``. Files are read in sorted order
(skipping tests, IDLE, demos and encodings tables) until ``max_bytes`` of source is collected, so the
corpus is deterministic for a given Python installation and builds in seconds. Code and prose share one
BPE tokenizer per vocabulary size, trained on both (see :mod:`patternlang.data.bpe`).

Everything derived is cached under ``$PATTERNLANG_CACHE`` (default ``~/.cache/patternlang``), in a
directory named by a hash of the settings (Python version, file list and sizes, ``max_bytes``, vocab,
tokenizer format): a second build reads the cache instead of retraining. Cache writes are atomic.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import sys
import sysconfig
import tokenize
from pathlib import Path
from typing import Annotated

import numpy as np
import torch

from patternlang.data.bpe import FORMAT, BPETokenizer, train_bpe
from patternlang.data.cache import atomic_write, cache_dir, settings_key
from patternlang.data.component import (ComponentError, DataComponent, ExampleComponent,
                                        StreamComponent)
from patternlang.registry import Range, primitive

DEFAULT_MAX_BYTES = 1_500_000
_SKIP_DIRS = {"test", "tests", "idlelib", "turtledemo", "lib2to3", "site-packages", "__pycache__",
              "encodings", "pydoc_data", "ensurepip", "dist-packages"}
_MAX_FILE = 150_000
_MEMO: dict[tuple, tuple[BPETokenizer, dict[str, np.ndarray]]] = {}


def stdlib_files(max_bytes: int = DEFAULT_MAX_BYTES) -> list[Path]:
    """Standard-library ``.py`` files, up to ``max_bytes`` of source in total, sorted by path.

    Eligible files are visited in a fixed pseudo-random order (by a hash of their relative path),
    so a small budget still samples the whole library instead of its alphabetical head.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    eligible = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("config-"))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.endswith(".py") and p.is_file() and p.stat().st_size <= _MAX_FILE:
                eligible.append(p)
    eligible.sort(key=lambda p: hashlib.sha256(str(p.relative_to(root)).encode()).hexdigest())
    out, total = [], 0
    for p in eligible:
        if total >= max_bytes:
            break
        out.append(p)
        total += p.stat().st_size
    return sorted(out)


def split_source(source: str) -> tuple[str, str]:
    """Split Python source into (code without docstrings and comments, docstrings + comments)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "", ""
    lines = source.splitlines()
    drop: set[int] = set()  # 0-based lines of docstrings
    prose: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                first = node.body[0]
                drop.update(range(first.lineno - 1, first.end_lineno or first.lineno))
                prose.append(doc)
    cut: dict[int, int] = {}  # 0-based line -> column where a comment starts
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                cut[tok.start[0] - 1] = tok.start[1]
                prose.append(tok.string.lstrip("#").strip())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    code: list[str] = []
    for i, line in enumerate(lines):
        if i in drop:
            continue
        line = line[:cut[i]].rstrip() if i in cut else line.rstrip()
        if line or (code and code[-1]):
            code.append(line)
    return "\n".join(code) + "\n", "\n".join(p for p in prose if p) + "\n"


def stdlib_text(max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, str, str]:
    """(code, prose, key) of the standard-library corpus, cached as text."""
    files = stdlib_files(max_bytes)
    root = Path(sysconfig.get_paths()["stdlib"])
    key = settings_key({"v": 1, "python": sys.version, "max_bytes": max_bytes,
                        "files": [[str(p.relative_to(root)), p.stat().st_size] for p in files]})
    d = cache_dir() / f"stdlib-text-{key}"
    if (d / "code.txt").exists() and (d / "prose.txt").exists():
        return (d / "code.txt").read_text("utf-8"), (d / "prose.txt").read_text("utf-8"), key
    code, prose = [], []
    for p in files:
        c, t = split_source(p.read_text("utf-8", errors="replace"))
        code.append(c)
        prose.append(t)
    code_s, prose_s = "".join(code), "".join(prose)
    atomic_write(d / "code.txt", code_s.encode())
    atomic_write(d / "prose.txt", prose_s.encode())
    return code_s, prose_s, key


def _tokenized(name: str, texts: dict[str, str], vocab: int, text_key: str
               ) -> tuple[BPETokenizer, dict[str, np.ndarray]]:
    """Train (or load) one tokenizer on all ``texts`` and encode each, cached by settings."""
    memo_key = (name, text_key, vocab, str(cache_dir()))
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    d = cache_dir() / f"{name}-{settings_key({'text': text_key, 'vocab': vocab, 'format': FORMAT})}"
    tok_path = d / "tokenizer.json"
    if tok_path.exists() and all((d / f"{k}.npy").exists() for k in texts):
        tok = BPETokenizer.from_json(tok_path.read_text())
        arrays = {k: np.load(d / f"{k}.npy", allow_pickle=False) for k in texts}
    else:
        tok = train_bpe("".join(texts.values()), vocab)
        arrays = {k: np.asarray(tok.encode(t), dtype=np.int32) for k, t in texts.items()}
        for k, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            atomic_write(d / f"{k}.npy", buf.getvalue())
        atomic_write(tok_path, tok.to_json().encode())  # written last: marks the entry complete
    _MEMO[memo_key] = (tok, arrays)
    return tok, arrays


def stdlib_corpus(vocab: int, max_bytes: int = DEFAULT_MAX_BYTES
                  ) -> tuple[BPETokenizer, dict[str, np.ndarray]]:
    """The shared tokenizer and the token streams ``{"code": ..., "prose": ...}``."""
    code, prose, key = stdlib_text(max_bytes)
    return _tokenized("stdlib", {"code": code, "prose": prose}, vocab, key)


@primitive("data")
def python_code(vocab: Annotated[int, Range(ge=2)] = 64,
                length: Annotated[int, Range(ge=2)] = 32) -> StreamComponent:
    """Python standard-library source code (docstrings and comments removed), BPE-tokenised.

    Args:
        vocab: tokenizer vocabulary size (shared with python_prose of the same vocab).
        length: window length in tokens.
    """
    _, arrays = stdlib_corpus(vocab)
    return StreamComponent("python_code", torch.from_numpy(arrays["code"]), length, vocab)


@primitive("data")
def python_prose(vocab: Annotated[int, Range(ge=2)] = 64,
                 length: Annotated[int, Range(ge=2)] = 32) -> StreamComponent:
    """Docstrings and comments of the Python standard library (prose), BPE-tokenised.

    Args:
        vocab: tokenizer vocabulary size (shared with python_code of the same vocab).
        length: window length in tokens.
    """
    _, arrays = stdlib_corpus(vocab)
    return StreamComponent("python_prose", torch.from_numpy(arrays["prose"]), length, vocab)


def window_pool(name: str, stream: torch.Tensor, length: int, size: int,
                vocab: int) -> ExampleComponent:
    """``size`` fixed windows of ``length`` tokens at evenly spaced offsets of ``stream`` (no two
    overlap while ``size <= len(stream) // length``): a pool whose examples each get their own
    per-sample χ column and weight (``per_sample = [pool]``, ``samples = [pool]``)."""
    fit = int(stream.numel()) // length
    if size > fit:
        raise ComponentError(name, f"a pool of {size} windows of {length} tokens does not fit in "
                             f"{stream.numel()} tokens without overlap", f"use size <= {fit}")
    starts = torch.linspace(0, stream.numel() - length, size).long()
    rows = stream[starts[:, None] + torch.arange(length)[None, :]]
    return ExampleComponent(name, {"tokens": rows.long()}, vocab_size=vocab)


@primitive("data")
def python_code_pool(vocab: Annotated[int, Range(ge=2)] = 64,
                     length: Annotated[int, Range(ge=2)] = 32,
                     size: Annotated[int, Range(ge=2)] = 1024) -> ExampleComponent:
    """A fixed pool of ``size`` windows of python_code, evenly spaced and non-overlapping (an
    example pool: per-sample susceptibilities and per-sample patterning weight each window).

    Args:
        vocab: tokenizer vocabulary size (shared with python_code / python_prose).
        length: window length in tokens.
        size: number of windows in the pool.
    """
    _, arrays = stdlib_corpus(vocab)
    return window_pool("python_code_pool", torch.from_numpy(arrays["code"]), length, size, vocab)


@primitive("data")
def python_prose_pool(vocab: Annotated[int, Range(ge=2)] = 64,
                      length: Annotated[int, Range(ge=2)] = 32,
                      size: Annotated[int, Range(ge=2)] = 1024) -> ExampleComponent:
    """A fixed pool of ``size`` windows of python_prose, evenly spaced and non-overlapping (an
    example pool, like python_code_pool).

    Args:
        vocab: tokenizer vocabulary size (shared with python_code / python_prose).
        length: window length in tokens.
        size: number of windows in the pool.
    """
    _, arrays = stdlib_corpus(vocab)
    return window_pool("python_prose_pool", torch.from_numpy(arrays["prose"]), length, size, vocab)


def _read(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ComponentError(p.name, f"file {str(p)!r} does not exist",
                             "check the path (relative paths are relative to the spec)")
    return p


@primitive("data")
def text_file(path: str, vocab: Annotated[int, Range(ge=2)] = 64,
              length: Annotated[int, Range(ge=2)] = 32) -> StreamComponent:
    """A UTF-8 text file, tokenised by a BPE tokenizer trained on it (cached by content hash).

    Args:
        path: the text file.
        vocab: tokenizer vocabulary size.
        length: window length in tokens.
    """
    p = _read(path)
    data = p.read_bytes()
    key = hashlib.sha256(data).hexdigest()[:16]
    _, arrays = _tokenized("textfile", {"text": data.decode("utf-8", errors="replace")}, vocab, key)
    return StreamComponent(p.stem, torch.from_numpy(arrays["text"]), length, vocab)


def _load_ids(p: Path):
    if p.suffix == ".npy":
        try:
            return torch.from_numpy(np.load(p, allow_pickle=False))
        except (ValueError, EOFError, OSError) as exc:
            raise ComponentError(p.name, f"cannot read {p} as a plain .npy array ({exc})",
                                 "save token ids with numpy.save(path, int_array)") from exc
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            tensors = load_file(str(p))
        except (SafetensorError, OSError) as exc:
            raise ComponentError(p.name, f"cannot read {p} as a safetensors file ({exc})",
                                 "save token ids with safetensors.torch.save_file({'tokens': "
                                 "ids}, path), or use a .npy file") from exc
        if "tokens" in tensors or len(tensors) == 1:
            return tensors.get("tokens", next(iter(tensors.values())))
        raise ComponentError(p.name, f"{p} holds tensors {sorted(tensors)} and none is 'tokens'",
                             "name the token tensor 'tokens'")
    raise ComponentError(p.name, f"unsupported token file type {p.suffix!r}",
                         "use a .npy or .safetensors file of integer token ids")


@primitive("data")
def token_file(path: str, length: Annotated[int, Range(ge=2)] = 32) -> DataComponent:
    """Token ids from a ``.npy`` or ``.safetensors`` file: a 1-D stream (random windows) or a 2-D
    array of ``[N, length]`` sequences (rows drawn with replacement).

    Args:
        path: the token file.
        length: sequence length in tokens.
    """
    p = _read(path)
    ids = _load_ids(p)
    if ids.dtype.is_floating_point or ids.dtype == torch.bool or (ids.numel() and ids.min() < 0):
        raise ComponentError(p.name, "token ids must be non-negative integers",
                             "store an integer array of token ids")
    if ids.dim() == 1:
        return StreamComponent(p.stem, ids.long(), length)
    if ids.dim() == 2 and ids.shape[1] == length:
        return ExampleComponent(p.stem, {"tokens": ids.long()})
    raise ComponentError(p.name, f"token array of shape {tuple(ids.shape)} does not fit length "
                         f"{length}", "store a 1-D stream, or a 2-D array with rows of that length")

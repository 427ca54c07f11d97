"""The on-disk cache of derived data (corpora, trained tokenizers, token streams).

Entries live under ``$PATTERNLANG_CACHE`` (default ``~/.cache/patternlang``) in directories named by
:func:`settings_key` of everything the entry depends on (data content, tokenizer settings, format
versions), so a changed input is a different entry, never a stale one. Writes are atomic
(:func:`atomic_write`: temporary file + rename), so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from patternlang.data.component import ComponentError


def cache_dir() -> Path:
    """The cache root: ``$PATTERNLANG_CACHE`` or ``~/.cache/patternlang``."""
    return Path(os.environ.get("PATTERNLANG_CACHE") or Path.home() / ".cache" / "patternlang")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise ComponentError("cache", f"cannot write the data cache at {path.parent} ({exc})",
                             "set PATTERNLANG_CACHE to a writable directory") from exc


def settings_key(payload: dict) -> str:
    """A short stable hash of a JSON-serialisable ``payload`` (the name of a cache entry)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, or of a directory's files (relative names and bytes, sorted)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(path) if p != path else p.name).encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()

"""The run directory: a content-addressed, crash-safe store of step outputs.

Layout::

    RUN/
      plan.json                 the plan being executed (rewritten each run)
      spec/                     copies of the spec and the modules it imported
      steps/<kind>-<name>-<hash>/
          ...                   the step's files
          done.json             written last: the step's summary; its presence means "complete"
          parts/                resumable pieces of a step (chain groups, arms x seeds), each with
                                its own done marker
      results.json, report.md, figures/
      log.jsonl                 one JSON object per event

Every write goes to a temporary file in the same directory and is renamed into place, so a crash
(even ``kill -9``) leaves either the old file or the new one, never half a file. A step directory
is keyed by the step's content hash (:meth:`patternlang.plan.ir.Plan.hashes`), so a re-run whose
plan only differs downstream (a changed target, say) finds train and sample outputs already there.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any, indent: int | None = 2) -> str:
    """JSON text with numpy values converted and NaN/inf written as null."""
    return json.dumps(_nan_to_none(obj), indent=indent, default=_default, sort_keys=False)


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _nan_to_none(obj.tolist())
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, to_json(obj).encode())


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` with the atomic-rename guarantee."""
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


class StepDir:
    """The directory of one step: files, resumable parts and the completion marker."""

    def __init__(self, path: Path):
        self.path = path

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def done(self) -> bool:
        return (self.path / "done.json").exists()

    def summary(self) -> dict:
        return read_json(self.path / "done.json")

    def mark_done(self, summary: dict) -> None:
        atomic_write_json(self.path / "done.json", summary)

    def forget(self) -> None:
        """Drop the completion marker (the step then runs again; its parts are kept)."""
        (self.path / "done.json").unlink(missing_ok=True)

    def part(self, name: str) -> Path:
        p = self.path / "parts" / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def part_done(self, name: str) -> bool:
        return (self.path / "parts" / name / "done.json").exists()

    def mark_part_done(self, name: str, summary: dict | None = None) -> None:
        atomic_write_json(self.part(name) / "done.json", summary or {})

    def clear_partial(self) -> None:
        """Remove the parts of an incomplete step (used when not resuming)."""
        if not self.done and self.path.exists():
            shutil.rmtree(self.path)


class RunDir:
    """A run directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.logging = True  # False on ranks > 0 of a distributed run (rank 0 keeps the log)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "steps").mkdir(exist_ok=True)

    def step(self, kind: str, step_id: str, digest: str) -> StepDir:
        safe = step_id.replace("/", "_").replace(".", "-")
        d = StepDir(self.root / "steps" / f"{safe}-{digest}")
        d.path.mkdir(parents=True, exist_ok=True)
        return d

    def log(self, event: str, **fields: Any) -> None:
        """Append one event to ``log.jsonl`` (append is atomic enough for line-sized records)."""
        if not self.logging:
            return
        rec = {"t": round(time.time(), 3), "event": event, **fields}
        with open(self.root / "log.jsonl", "a") as fh:
            fh.write(to_json(rec, indent=None) + "\n")

    def write_json(self, name: str, obj: Any) -> Path:
        p = self.root / name
        atomic_write_json(p, obj)
        return p

    def write_text(self, name: str, text: str) -> Path:
        p = self.root / name
        atomic_write_bytes(p, text.encode())
        return p

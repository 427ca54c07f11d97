"""The run directory: a content-addressed, crash-safe store of step outputs.

Layout::

    RUN/
      plan.json                 the plan being executed (rewritten each run)
      spec/                     copies of the spec and the modules it imported
      steps/<kind>-<name>-<hash>/
          ...                   the step's files
          done.json             written last: the step's result; its presence means "complete"
          parts/                resumable pieces of a step (chain groups, arms x seeds), each with
                                its own done marker
      results.json, report.md, figures/
      log.jsonl                 one JSON object per event

Integrity: ``done.json`` (of a step, of a resumable part, of a verification run) holds
``{"summary": ..., "files": {relative path: sha256}}``, the content hashes of the files that unit
wrote. A cached unit is used only if every file is there with its recorded hash; otherwise the
executor says which file is missing or altered, moves the step directory to ``steps/.damaged/`` and
recomputes it (a damaged part is simply run again). A sealed unit never vouches for a file reached
through a symbolic link (:func:`seal` refuses it, :func:`damage` reports it). Paths derived from
step ids are sanitized (:func:`safe_name`) and every path written to must resolve inside the run
directory (:meth:`RunDir.inside`, :func:`patternlang.atomic.refuse_links`): a symlink below it is
refused. Files get the user's umask.

Every write goes to an unguessable temporary file (``mkstemp``) in the same directory and is
renamed into place (:mod:`patternlang.atomic`), so a crash (even ``kill -9``) leaves either the old
file or the new one, never half a file, and a link planted at a temporary name is never followed. A step directory
is keyed by the step's content hash (:meth:`patternlang.plan.ir.Plan.hashes`), so a re-run whose
plan only differs downstream (a changed target, say) finds train and sample outputs already there.

Taking a directory for a run (its marker, the spec it ran, the lock a run holds) is
:mod:`patternlang.runtime.claim`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from patternlang.atomic import (MARKER, atomic_write, atomic_write_bytes, file_mode, is_run_dir,
                               refuse_links)


__all__ = ["MARKER", "atomic_write", "atomic_write_bytes", "file_mode", "is_run_dir", "refuse_links"]


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
    named: dict[str, Any] = arrays  # numpy's stub lets **kwds fill savez's `allow_pickle: bool`
    np.savez(buf, **named)
    atomic_write_bytes(path, buf.getvalue())


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


# ---------------------------------------------------------------------------------------------
# Sealing: a done marker with the content hashes of the files it vouches for


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_under(d: Path) -> list[Path]:
    """Files below ``d``, except done markers' temporaries and ``d/done.json`` itself (links
    included, so that :func:`seal` can refuse them)."""
    return sorted(p for p in d.rglob("*") if (p.is_file() or p.is_symlink())
                  and not p.name.endswith(".tmp") and p != d / "done.json")


def _linked(p: Path, base: Path) -> Path | None:
    """The first of ``p`` and its folders below ``base`` that is a symbolic link, or None."""
    rel = p.relative_to(base)
    for i in range(len(rel.parts), 0, -1):
        q = base.joinpath(*rel.parts[:i])
        if q.is_symlink():
            return q
    return None


def seal(d: Path, summary: Any, files: list[Path] | None = None, base: Path | None = None) -> None:
    """Write ``d/done.json``: the unit's ``summary`` and the sha256 of ``files`` (default: every
    file under ``d``), keyed by their path relative to ``base`` (default ``d``). The sha256 of
    the summary itself is recorded too (``summary_sha256``), so an edited summary is found like
    an edited file. A file reached through a symbolic link is refused: a sealed unit vouches only
    for files inside it."""
    from patternlang.errors import PatRuntimeError

    base = base or d
    listed = _files_under(d) if files is None else [p for p in files if not p.name.endswith(".tmp")]
    for p in listed:
        link = _linked(p, base)
        if link is not None:
            raise PatRuntimeError("run directory", f"{link} is a symbolic link (to "
                                  f"{link.resolve()}); {d.name} cannot be sealed with files "
                                  "outside it", f"remove the link {link} and run again")
    manifest = {str(p.relative_to(base)): _sha256(p) for p in listed}
    atomic_write_json(d / "done.json", {"summary": summary, "files": manifest,
                                        "summary_sha256": summary_digest(summary)})


def summary_digest(summary: Any) -> str:
    """sha256 of a summary's canonical JSON text (what :func:`seal` records)."""
    as_read = json.loads(to_json(summary, indent=None))  # what a reader gets back
    text = json.dumps(as_read, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def damage(d: Path, base: Path | None = None) -> str | None:
    """Why the sealed unit ``d`` cannot be trusted (unreadable marker, an edited summary, a file
    missing, altered or reached through a link), or ``None`` when every recorded file is there
    with its recorded content."""
    try:
        record = read_json(d / "done.json")
        manifest = dict(record["files"])
        summary = record["summary"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{d.name}/done.json is unreadable or incomplete"
    if record.get("summary_sha256") != summary_digest(summary):
        return f"{d.name}/done.json: its summary was edited after it was written"
    base = base or d
    for rel, digest in manifest.items():
        p = base / str(rel)
        if ".." in Path(str(rel)).parts or Path(str(rel)).is_absolute() or _linked(p, base):
            return f"{rel} is outside the step directory (a link or a path out of it)"
        if not p.is_file():
            return f"{rel} is missing"
        if _sha256(p) != digest:
            return f"{rel} was altered after it was written"
    return None


def sealed_summary(d: Path) -> Any:
    return read_json(d / "done.json")["summary"]


def safe_name(text: str) -> str:
    """A file-name-safe form of an id (letters, digits, ``-`` and ``_`` only; ``.``, ``/`` and
    anything else become ``-``/``_``), so a crafted id cannot leave its directory."""
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else
                  ("-" if ch == "." else "_") for ch in text)
    return out[:120] or "_"


class StepDir:
    """The directory of one step: files, resumable parts and the sealed completion marker."""

    def __init__(self, path: Path, say: Any = None):
        self.path = path
        self.say = say or (lambda message: None)  # where "recomputing a damaged part" is told

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def done(self) -> bool:
        return (self.path / "done.json").exists()

    def damage(self) -> str | None:
        """Why this completed step's files cannot be used (see :func:`damage`), or None."""
        return damage(self.path)

    def summary(self) -> dict:
        return sealed_summary(self.path)

    def mark_done(self, summary: dict) -> None:
        seal(self.path, summary)

    def forget(self) -> None:
        """Drop the completion marker (the step then runs again; its parts are kept)."""
        (self.path / "done.json").unlink(missing_ok=True)

    def part(self, name: str) -> Path:
        p = self.path / "parts" / safe_name(name)
        refuse_links(p / "done.json")  # no folder on the way may lead out of the run directory
        p.mkdir(parents=True, exist_ok=True)
        return p

    def part_done(self, name: str) -> bool:
        """Whether part ``name`` is complete and intact; a damaged part is discarded (and told)."""
        d = self.path / "parts" / safe_name(name)
        if not (d / "done.json").exists():
            return False
        why = damage(d, self.path)
        if why is None:
            return True
        self.say(f"{self.path.name}: part {name} is damaged ({why}); recomputing it")
        (d / "done.json").unlink()
        return False

    def part_summary(self, name: str) -> Any:
        return sealed_summary(self.path / "parts" / safe_name(name))

    def mark_part_done(self, name: str, summary: dict | None = None,
                       files: list[Path] | None = None) -> None:
        """Seal part ``name``: over ``files`` (e.g. a seed's checkpoints elsewhere in the step
        directory), or every file in the part's own directory."""
        d = self.part(name)
        seal(d, summary or {}, files if files is not None else _files_under(d), base=self.path)

    def clear_partial(self) -> None:
        """Remove the parts of an incomplete step (used when not resuming)."""
        if not self.done and self.path.exists():
            shutil.rmtree(self.path)

    def quarantine(self) -> Path:
        """Move this (damaged) step directory to ``steps/.damaged/`` for inspection; return where."""
        dest_dir = self.path.parent / ".damaged"
        refuse_links(dest_dir / self.path.name)
        dest_dir.mkdir(exist_ok=True)
        dest = dest_dir / f"{self.path.name}-{int(time.time())}"
        n = 0
        while dest.exists():
            n += 1
            dest = dest_dir / f"{self.path.name}-{int(time.time())}-{n}"
        os.replace(self.path, dest)
        return dest


class RunDir:
    """A run directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.logging = True  # False on ranks > 0 of a distributed run (rank 0 keeps the log)
        self.root.mkdir(parents=True, exist_ok=True)
        self.inside(self.root / "steps").mkdir(exist_ok=True)

    def inside(self, path: Path) -> Path:
        """``path`` if it resolves inside the run directory; a symlink (or ``..``) out of it is
        refused with a runtime error naming it."""
        from patternlang.errors import PatRuntimeError

        real, root = Path(path).resolve(), self.root.resolve()
        if real != root and root not in real.parents:
            raise PatRuntimeError("run directory", f"{path} resolves to {real}, outside the run "
                                  f"directory {root}", f"remove the symlink {path} (patc writes only "
                                  "inside the run directory)")
        return Path(path)

    def step(self, kind: str, step_id: str, digest: str) -> StepDir:
        d = StepDir(self.inside(self.root / "steps" / f"{safe_name(step_id)}-{digest}"))
        d.path.mkdir(parents=True, exist_ok=True)
        return d

    def subdir(self, *names: str) -> Path:
        """A directory below the run directory (names sanitized), created, checked inside it."""
        p = self.root.joinpath(*(safe_name(n) for n in names))
        self.inside(p).mkdir(parents=True, exist_ok=True)
        return self.inside(p)

    def log(self, event: str, **fields: Any) -> None:
        """Append one event to ``log.jsonl`` (append is atomic enough for line-sized records)."""
        if not self.logging:
            return
        rec = {"t": round(time.time(), 3), "event": event, **fields}
        with open(self.inside(self.root / "log.jsonl"), "a") as fh:
            fh.write(to_json(rec, indent=None) + "\n")

    def write_json(self, name: str, obj: Any) -> Path:
        p = self.inside(self.root / name)
        atomic_write_json(p, obj)
        return p

    def write_text(self, name: str, text: str) -> Path:
        p = self.inside(self.root / name)
        atomic_write_bytes(p, text.encode())
        return p

"""Crash-safe and link-safe file writes, shared by every layer that writes into a run directory
(checkpoints, χ tables, step results, the report).

Three rules, each against a way a run could go wrong:

* **Atomic.** Data goes to a temporary file in the destination's directory and is renamed into
  place, so a crash (even ``kill -9``) leaves the old file or the new one, never half a file.
* **Unpredictable temporaries.** The temporary name comes from :func:`tempfile.mkstemp`, which
  creates the file itself (``O_CREAT | O_EXCL``): a symlink planted at a guessable name
  (``.step8.safetensors.1234.tmp``) cannot redirect the write to a file outside.
* **No links inside a run directory.** When the destination lies below a run directory (a folder
  with the ``.patternlang-run`` marker, or ``plan.json`` + ``steps/`` from before the marker), no
  folder between the run directory and the file may be a symbolic link: a ``seed0 -> /elsewhere``
  is refused (:func:`refuse_links`) before anything is created. Links above the run directory
  (``--out`` itself a link, ``/tmp`` a link) are the user's business and allowed.

Files get the permissions an ordinary ``open(path, "w")`` would give under the user's umask
(``mkstemp`` alone makes them 0600).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

MARKER = ".patternlang-run"  # written into every run directory patc creates
_UMASK: list[int] = []


def file_mode() -> int:
    """0666 minus the process umask (read once; ``mkstemp`` alone would make every file 0600)."""
    if not _UMASK:
        old = os.umask(0o022)
        os.umask(old)
        _UMASK.append(old)
    return 0o666 & ~_UMASK[0]


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a patternlang run directory (its marker, or a run from before it)."""
    return (path / MARKER).is_file() or ((path / "plan.json").is_file() and (path / "steps").is_dir())


def refuse_links(path: str | os.PathLike) -> None:
    """Raise :class:`~patternlang.errors.PatRuntimeError` when a folder between the outermost run
    directory above ``path`` and ``path`` itself is a symbolic link (so a write would land
    outside the run directory). Paths not below a run directory are not checked."""
    from patternlang.errors import PatRuntimeError

    chain = Path(os.path.abspath(path)).parents  # nearest first, "/" last
    root = next((i for i in range(len(chain) - 1, -1, -1) if is_run_dir(chain[i])), None)
    if root is None:
        return
    for folder in chain[:root]:
        if folder.is_symlink():
            raise PatRuntimeError("run directory", f"{folder} is a symbolic link to "
                                  f"{folder.resolve()}; writing {Path(path).name} there would "
                                  f"leave the run directory {chain[root]}",
                                  f"remove the link {folder} (patc writes only inside the run "
                                  "directory); completed steps are kept")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Have ``write(tmp)`` fill a fresh temporary file beside ``path``, then rename it to ``path``.

    The temporary is created by ``mkstemp`` (an unguessable name, never a followed link); a
    failure (a full disk) removes it and re-raises, leaving any old ``path`` untouched.
    """
    path = Path(path)
    refuse_links(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))

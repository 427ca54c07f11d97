"""Taking a directory for a run: :func:`claim` makes it a run directory (its marker file,
``.patternlang-run``), refusing a non-empty directory that is not one; :func:`bind_spec` records in the
marker which spec last ran there; :func:`locked` holds ``RUN/.patternlang-lock`` while a run writes,
so two runs never write the same step directories. Ranks > 0 of a distributed run leave all three
to rank 0. What a run then writes into the directory is :mod:`patternlang.runtime.rundir`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from patternlang.atomic import MARKER, file_mode, is_run_dir, refuse_links
from patternlang.runtime.rundir import atomic_write_json, read_json


def claim(path: str | os.PathLike, force: bool = False) -> None:
    """Make ``path`` a run directory, refusing (exit 2) a non-empty directory that is not one,
    unless ``force``: patc never overwrites files it did not write without being told to."""
    from patternlang import __version__
    from patternlang.errors import PatUsageError

    root = Path(path)
    if int(os.environ.get("RANK", "0")) > 0:  # ranks of a distributed run: rank 0 decides
        root.mkdir(parents=True, exist_ok=True)
        return
    if root.exists() and not root.is_dir():
        raise PatUsageError(f"--out {root} is a file, not a directory")
    if root.is_dir() and not is_run_dir(root) and any(root.iterdir()) and not force:
        raise PatUsageError(f"--out {root} is a non-empty directory that is not a patternlang run "
                            "directory; patc would overwrite files there (report.md, results.json, "
                            "plan.json, spec/, figures/).\n  remedy: give a new or empty directory, "
                            "or pass --force to write into it anyway")
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / MARKER).exists():
            atomic_write_json(root / MARKER, {"patternlang": __version__})
    except OSError as exc:
        raise PatUsageError(f"cannot create the run directory {root}: {exc.strerror or exc}\n"
                            "  remedy: give --out a directory you can write to") from None


def bind_spec(path: str | os.PathLike, spec: str | os.PathLike) -> str | None:
    """Record in the run marker which spec file ``path`` last ran; return the spec it held before
    when that was another file (the caller says so and logs it: re-using a run directory for an
    edited copy of a spec is allowed, as steps are content-addressed, but never silent)."""
    from patternlang import __version__

    root, source = Path(path), str(Path(spec).resolve())
    if int(os.environ.get("RANK", "0")) > 0:
        return None
    try:
        recorded = read_json(root / MARKER).get("spec")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != source:
        atomic_write_json(root / MARKER, {"patternlang": __version__, "spec": source})
    return recorded if recorded and recorded != source else None


LOCK = ".patternlang-lock"


@contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold the run directory's lock (``RUN/.patternlang-lock``, ``flock``) while a run writes
    into it: a second ``patc run`` into the same directory is refused (exit 2) with the pid of the
    first, instead of both writing the same step directories. Ranks > 0 of a distributed run
    work under rank 0's lock. The lock is released when the process ends, however it ends."""
    import fcntl

    from patternlang.errors import PatUsageError

    if int(os.environ.get("RANK", "0")) > 0:
        yield
        return
    lock = Path(path) / LOCK
    refuse_links(lock)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise PatUsageError(f"another patc run (pid {holder}) is writing into {path}.\n  "
                                "remedy: wait for it to finish, or give another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)

"""Progress events from the executor, rendered by whoever is listening.

The library only emits events through a :class:`Progress`; the CLI decides how they look (rich bars
with rates and ETA on a terminal, JSON lines with ``--log json``, nothing with ``--quiet``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Protocol


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def task(self, label: str, total: int, unit: str = "it") -> Task: ...

    def info(self, message: str) -> None: ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    """Emit nothing (``--quiet``, tests, library use)."""

    def task(self, label: str, total: int, unit: str = "it") -> Task:
        return _NullTask()

    def info(self, message: str) -> None:
        pass


class _JsonTask:
    def __init__(self, out: IO[str], label: str, total: int, unit: str):
        self.out, self.label, self.total, self.unit = out, label, total, unit
        self.done, self.t0, self._last = 0, time.time(), 0.0
        self._emit("start")

    def _emit(self, event: str) -> None:
        rec = {"event": event, "task": self.label, "done": self.done, "total": self.total,
               "unit": self.unit, "elapsed_s": round(time.time() - self.t0, 3)}
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if time.time() - self._last > 1.0 or self.done >= self.total:
            self._last = time.time()
            self._emit("progress")

    def close(self) -> None:
        self._emit("end")


class JsonLinesProgress:
    """One JSON object per line on ``out`` (default stderr): for scripts and CI logs."""

    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stderr

    def task(self, label: str, total: int, unit: str = "it") -> Task:
        return _JsonTask(self.out, label, total, unit)

    def info(self, message: str) -> None:
        self.out.write(json.dumps({"event": "info", "message": message}) + "\n")
        self.out.flush()

"""Worker processes that never outlive the run (verification's process pool).

* Each worker watches its parent: when the parent is gone (``kill -9``, a crash), ``os.getppid()``
  changes and the worker exits within half a second, instead of training on with parent 1.
* Workers ignore Ctrl-C (the terminal sends SIGINT to the whole process group); the parent decides:
  on any interruption (SIGINT, SIGTERM turned into :class:`Terminated` by the CLI, an error) it
  terminates its workers before the exception continues, so nothing keeps running.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

POLL_SECONDS = 0.5


class Terminated(BaseException):
    """SIGTERM arrived (a batch scheduler, ``kill``): unwinds like Ctrl-C, so completed work is kept
    and workers are ended. A ``BaseException`` so that no ``except Exception`` swallows it."""


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)


def worker_init(parent: int) -> None:
    """Start-up of every worker: ignore SIGINT, exit when ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def end_children(timeout: float = 5.0) -> None:
    """Terminate this process's child processes (then kill what is left after ``timeout``)."""
    children = multiprocessing.active_children()
    for p in children:
        p.terminate()
    deadline = time.time() + timeout
    for p in children:
        p.join(max(0.0, deadline - time.time()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


@contextmanager
def worker_pool(n: int) -> Iterator[ProcessPoolExecutor]:
    """A ``spawn`` process pool of ``n`` workers that end with the parent and on interruption."""
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=worker_init, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        end_children()
        raise
    pool.shutdown(wait=True)


def on_sigterm(signum: int, frame: object) -> None:
    """The CLI's SIGTERM handler: raise :class:`Terminated` in the main thread."""
    raise Terminated()

"""Fault injection (issue 14): a tiny run killed at >= 20 points spread over every stage, then
resumed, gives the results of an uninterrupted run; a full disk (a failing writer) is exit 1 and
loses nothing already computed.

A "point" is the k-th write of the run (every file and log line goes through
:func:`patternlang.runtime.rundir.atomic_write_bytes` or :meth:`RunDir.log`). The killed run is a
forked child that ends with ``os._exit`` at that write, before or after it lands (no cleanup runs,
as with ``kill -9``); the parent then resumes in-process. One tiny spec (tests/cli/fast.pat), about
a second per run, keeps the set well under the CI budget.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from patternlang import cli
from patternlang.compiler import compile_file
from patternlang.runtime import executor, rundir
from patternlang.runtime.options import RunOptions

FAST = Path(__file__).resolve().parents[1] / "cli" / "fast.pat"
KILLS = 20


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def numbers(out: Path) -> dict:
    r = json.loads((out / "results.json").read_text())
    return {"llc": r["llc"], "chi": r["susceptibilities"], "solves": r["solves"],
            "verification": {k: v["arms"] for k, v in r["verification"].items()},
            "complete": {k: v["complete"] for k, v in r["steps"].items()}}


class WriteCounter:
    """Counts writes; at write ``at`` calls ``action`` (before the write, or just after it)."""

    def __init__(self, monkeypatch, at: int | None = None, after: bool = False, action=None):
        self.n, self.at, self.after, self.action = 0, at, after, action
        real_write, real_log = rundir.atomic_write_bytes, rundir.RunDir.log

        def write(path, data):
            self._tick(lambda: real_write(path, data), path)

        def log(run, event, **fields):
            self._tick(lambda: real_log(run, event, **fields), "log.jsonl")

        monkeypatch.setattr(rundir, "atomic_write_bytes", write)
        monkeypatch.setattr(rundir.RunDir, "log", log)

    def _tick(self, do, path) -> None:
        self.n += 1
        hit = self.n == self.at
        if hit and not self.after:
            self.action(path)
        do()
        if hit and self.after:
            self.action(path)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    plan = compile_file(str(FAST))
    executor.execute(plan, out, options=RunOptions(device="cpu"))
    return plan, numbers(out)


def _count_writes(plan, tmp_path, monkeypatch) -> int:
    with monkeypatch.context() as m:
        counter = WriteCounter(m)
        executor.execute(plan, tmp_path / "count", options=RunOptions(device="cpu"))
    return counter.n


def _killed_child(plan, out: Path, at: int, after: bool, monkeypatch) -> None:
    pid = os.fork()
    if pid == 0:  # the child: run until the k-th write, then die without any cleanup
        try:
            WriteCounter(monkeypatch, at, after, lambda path: os._exit(137))
            executor.execute(plan, out, options=RunOptions(device="cpu"))
        finally:
            os._exit(0)  # ran to the end: the point was past the last write (a test failure)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 137, f"the run was not killed at write {at} ({status})"


@pytest.mark.slow
def test_killed_at_20_points_then_resumed_gives_the_uninterrupted_results(reference, tmp_path,
                                                                           monkeypatch):
    plan, expected = reference
    total = _count_writes(plan, tmp_path, monkeypatch)
    assert total >= KILLS  # the points are spread over the whole run (every stage writes)
    rng = random.Random(14)
    points = sorted(rng.sample(range(1, total + 1), KILLS))
    for i, at in enumerate(points):
        out = tmp_path / f"kill{i}"
        _killed_child(plan, out, at, after=bool(i % 2), monkeypatch=monkeypatch)
        executor.execute(plan, out, options=RunOptions(device="cpu"), resume=True)
        assert numbers(out) == expected, f"kill at write {at}/{total}"
        shutil.rmtree(out)


def test_a_full_disk_is_exit_1_and_loses_nothing_already_computed(reference, tmp_path, capsys,
                                                                  monkeypatch):
    _, expected = reference
    out = tmp_path / "out"

    def disk_full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as m:
        # the disk fills up during sampling: the first write below a sample step directory
        counter = WriteCounter(m)
        counter.action = lambda path: None
        real_tick = counter._tick

        def tick(do, path):
            if counter.at is None and "sample-chi" in str(path):
                counter.at, counter.action = counter.n + 1, disk_full
            real_tick(do, path)

        counter._tick = tick
        code = cli.main(["run", str(FAST), "--out", str(out), "--quiet", "--device", "cpu"])
        err = capsys.readouterr().err
    assert code == 1, err
    assert "sample.chi" in err and "disk is full" in err and "--resume" in err
    assert "Traceback" not in err and "internal error" not in err
    train = next(out.glob("steps/train-pretrain-*"))
    assert rundir.damage(train) is None  # the completed step is intact
    code = cli.main(["run", str(FAST), "--out", str(out), "--quiet", "--device", "cpu", "--resume"])
    assert code == 0, capsys.readouterr().err
    assert numbers(out) == expected


def _no_space(path) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


@pytest.mark.parametrize("where", ["checkpoint", "checkpoint_safetensors", "chi"])
def test_a_full_disk_at_a_checkpoint_or_chi_write_is_exit_1_then_resumes(reference, tmp_path, capsys,
                                                                         monkeypatch, where):
    """Issue 27 item 7: the two writers outside the run directory's helpers (a model checkpoint,
    the χ table) fail with "no space left on device": exit 1 saying so, never 70 (safetensors
    reports it as ``SafetensorError ... (os error 28)``); --resume then gives the same numbers."""
    import safetensors.torch

    from patternlang.models import checkpoint

    _, expected = reference
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        if where == "checkpoint":
            def full(path, write):
                raise _no_space(path)
            m.setattr(checkpoint, "atomic_write", full)
        elif where == "checkpoint_safetensors":
            def full(*args, **kwargs):
                raise safetensors.SafetensorError("Error while serializing: I/O error: No space "
                                                  "left on device (os error 28)")
            m.setattr(safetensors.torch, "save_file", full)
        else:
            from patternlang import atomic

            real = atomic.atomic_write_bytes

            def full(path, data):
                if Path(path).name.startswith("chi."):
                    raise _no_space(path)
                real(path, data)
            m.setattr(atomic, "atomic_write_bytes", full)
        code = cli.main(["run", str(FAST), "--out", str(out), "--quiet", "--device", "cpu"])
        err = capsys.readouterr().err
    assert code == 1, err
    assert "disk is full" in err and "--resume" in err
    assert "Traceback" not in err and "internal error" not in err
    assert ("train.pretrain" if where != "chi" else "susceptibility.chi") in err
    assert not [p for p in out.rglob("*.tmp")]  # the failed write left no temporary behind
    code = cli.main(["run", str(FAST), "--out", str(out), "--quiet", "--device", "cpu", "--resume"])
    assert code == 0, capsys.readouterr().err
    assert numbers(out) == expected

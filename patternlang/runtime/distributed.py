"""Running one plan on N processes with ``torch.distributed`` (``torchrun`` / ``patc run --nproc N``).

The model is SPMD: every rank runs the whole program (``python -m patternlang run SPEC --out OUT``)
against the same run directory, and the step runners split their *units* over ranks:

* ``sample``: the (center, chain group) pairs — rank r takes units r, r+W, r+2W, ...;
* ``verify``: the (arm, seed) training runs;
* ``train``: the seeds of a pool (``seeds = N``).

Each rank writes its units as resumable *parts* (own done markers) and then hands their payloads
(co-moment state dicts, sampler results, traces, training curves) to rank 0 with one
``gather_object``. Rank 0 assembles them in canonical order (chain order, seed order), so what it
computes is exactly what a single process computes from the same parts; it alone writes
``plan.json``, the step results (``done.json``), ``results.json`` and the report, while the other
ranks wait at a barrier and read those results back from disk. The run directory must therefore be
on a file system every rank sees (the same machine, or a shared mount across nodes).

Rank and world size come from the environment the elastic launcher sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``); the process group is gloo on CPU and nccl when the run's device is CUDA.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence, TypeVar

from patternlang.errors import PatRuntimeError
from patternlang.runtime.options import RunOptions

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    """This process's place in the group (``Dist()`` is the single-process run)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """True when there is more than one rank (collectives do something)."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the step results, results.json and the report."""
        return self.rank == 0

    def mine(self, units: Sequence[T]) -> list[T]:
        """The units this rank runs: ``units[rank], units[rank + world], ...`` (round robin, so
        every rank gets a similar share whatever the order of unit costs)."""
        return list(units[self.rank::self.world])

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (e.g. "is this step already done?")."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0, in rank order; ``None`` on the other ranks."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def gather_dict(self, local: dict) -> dict | None:
        """Union of every rank's ``{unit name: payload}`` on rank 0 (``None`` elsewhere). Names are
        unique per unit, so the union does not depend on which rank ran what."""
        parts = self.gather(local)
        if parts is None:
            return None
        merged: dict = {}
        for p in parts:
            merged.update(p)
        return merged


_CURRENT: Dist | None = None
_OWNS_GROUP = False


def from_env(device_type: str = "cpu") -> Dist:
    """The :class:`Dist` of this process, read from ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``;
    initialises the default process group (gloo on CPU, nccl on CUDA) when ``WORLD_SIZE`` > 1."""
    global _CURRENT, _OWNS_GROUP
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1:
        import torch
        import torch.distributed as dist

        if not dist.is_available():
            raise PatRuntimeError("setup", "this torch build has no torch.distributed",
                                  "install a torch with distributed support, or run one process")
        if not dist.is_initialized():
            backend = "nccl" if device_type == "cuda" else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(info.local_rank % torch.cuda.device_count())
            dist.init_process_group(backend, timeout=timedelta(minutes=60))
            _OWNS_GROUP = True
    _CURRENT = info
    return info


def shutdown() -> None:
    """Destroy the process group if :func:`from_env` created it."""
    global _OWNS_GROUP
    if _OWNS_GROUP:
        import torch.distributed as dist

        dist.destroy_process_group()
        _OWNS_GROUP = False


def env_world() -> int:
    """``WORLD_SIZE`` of this process (1 outside a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (for the local rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launcher_args(nproc: int, spec: str, out: str, options: RunOptions | None = None, *,
                  resume: bool = False, seed: int | None = None, search_path: Sequence[str] = (),
                  port: int | None = None, run_args: Sequence[str] = ()) -> list[str]:
    """The ``torch.distributed.run`` command line of ``patc run SPEC --nproc N``: one node, a
    c10d rendezvous on 127.0.0.1 with a free port (no network needed), no restarts. Every rank
    gets the run ``options`` as ``patc run`` flags (:meth:`RunOptions.cli_args`)."""
    if nproc < 1:
        raise PatRuntimeError("setup", f"--nproc {nproc}", "use --nproc >= 1")
    port = port or free_port()
    args = ["--nnodes", "1", "--nproc-per-node", str(nproc), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", uuid.uuid4().hex[:12],
            "--local-addr", "127.0.0.1", "--max-restarts", "0", "-m", "patternlang"]
    for p in search_path:
        args += ["-I", str(p)]
    args += ["run", str(spec), "--out", str(out), *(options or RunOptions()).cli_args()]
    if resume:
        args.append("--resume")
    if seed is not None:
        args += ["--seed", str(seed)]
    return args + list(run_args)


def launch(nproc: int, spec: str, out: str, options: RunOptions | None = None, *,
           resume: bool = False, seed: int | None = None, search_path: Sequence[str] = (),
           run_args: Sequence[str] = ()) -> int:
    """Run ``patc run SPEC --out OUT`` on ``nproc`` local processes through the elastic launcher
    (``torch.distributed.run``); return the exit code (0, or the first failed rank's code).

    Every rank gets ``options`` as ``patc run`` flags, built once here; ``run_args`` are further
    ``patc run`` flags (``--quiet``, ``--log json``). Multi-node runs use ``torchrun`` directly (see
    ``docs/scale.md``): there each rank builds its options from its own flags and environment.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    argv = launcher_args(nproc, spec, out, options, resume=resume, seed=seed,
                         search_path=search_path, run_args=run_args)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        run(get_args_parser().parse_args(argv))
    except ChildFailedError as exc:
        codes = [f.exitcode for f in exc.failures.values() if f.exitcode]
        print(f"patc: {len(exc.failures)} of {nproc} ranks failed (see their messages above)",
              file=sys.stderr)
        return int(codes[0]) if codes and codes[0] > 0 else 1
    return 0

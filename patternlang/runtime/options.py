"""How a run executes, as opposed to what it computes: :class:`RunOptions`.

The plan says what to compute; the options say where and how (device, observation precision,
``torch.compile``, chain grouping, worker processes). ``patc run`` and :func:`patternlang.run` build
one :class:`RunOptions` and hand it to :func:`~patternlang.runtime.executor.execute`, which writes
it to ``RUN/options.json`` and gives it to every step as ``ctx.options``; ``patc run --nproc N``
hands it to every rank once, as ``patc run`` flags (:meth:`RunOptions.cli_args`). Nothing below the
CLI and the API reads the environment.

Options that change numbers (:meth:`RunOptions.numerics`: ``autocast`` other than ``off``,
``compile``) enter the content hash of every sampling step, so a bf16 or compiled run never re-uses
(or overwrites) a float32 run's outputs in the same run directory. ``chain_group`` and ``workers``
only change how work is split: chain ``c``'s random streams derive from ``(seed, c)`` whatever group
it runs in, and each verification run trains in one process, so neither enters a hash.

Environment variables fill the defaults of options not given (:meth:`RunOptions.from_env`), for
the CLI and the API only: ``PATTERNLANG_AUTOCAST``, ``PATTERNLANG_COMPILE``,
``PATTERNLANG_CHAIN_GROUP``, ``PATTERNLANG_WORKERS``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from patternlang.errors import PatRuntimeError

AUTOCAST_MODES = ("off", "bf16", "tf32")
ENV = {"autocast": "PATTERNLANG_AUTOCAST", "compile": "PATTERNLANG_COMPILE",
       "chain_group": "PATTERNLANG_CHAIN_GROUP", "workers": "PATTERNLANG_WORKERS"}


class RunOptions(BaseModel):
    """Where and how a plan runs (see the module docstring).

    Attributes:
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``.
        autocast: observation precision: ``off`` (float32), ``bf16`` or ``tf32``
            (:mod:`patternlang.runtime.accel`).
        compile: ``torch.compile`` backend for the sampled model (``None``: no compile).
        chain_group: chains per batched sampler call (``None``: 2 on a CPU, as many as fit on a GPU).
        workers: worker processes for sample chain groups and verification runs (``None``: one per
            core for chain groups and 2 for verification runs on a single-process CPU run, else 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = "auto"
    autocast: Literal["off", "bf16", "tf32"] = "off"
    compile: str | None = None
    chain_group: int | None = Field(default=None, ge=1)
    workers: int | None = Field(default=None, ge=1)

    @field_validator("compile", mode="before")
    @classmethod
    def _backend(cls, value: object) -> object:
        """``1``/``true``/``on`` mean inductor; ``0``/``false``/``off``/empty mean no compile."""
        if value is None or not isinstance(value, str):
            return value
        v = value.strip().lower()
        if v in ("", "0", "false", "off", "no"):
            return None
        return "inductor" if v in ("1", "true", "on", "yes") else v

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given: object) -> "RunOptions":
        """Options ``given`` (``None`` = not given), the rest from ``PATTERNLANG_*`` variables of
        ``env`` (default ``os.environ``), the rest defaults. A bad value is a setup error naming
        the variable."""
        env = os.environ if env is None else env
        values = {k: v for k, v in given.items() if v is not None}
        from_env = set()
        for field, var in ENV.items():
            raw = env.get(var, "").strip()
            if field not in values and raw:
                values[field] = raw.lower() if field == "autocast" else raw
                from_env.add(field)
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            bad = sorted({str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])()})
            where = ", ".join(f"{ENV[b] if b in from_env else b}={values.get(b)!r}"
                              for b in bad) or str(exc)
            raise PatRuntimeError("setup", f"bad run option: {where}",
                                  f"autocast is one of {', '.join(AUTOCAST_MODES)}; chain_group "
                                  "and workers are integers >= 1") from None

    def numerics(self) -> dict[str, str]:
        """The options that change numbers, when not at their defaults (they enter the hash of
        sampling steps)."""
        out: dict[str, str] = {}
        if self.autocast != "off":
            out["autocast"] = self.autocast
        if self.compile:
            out["compile"] = self.compile
        return out

    def cli_args(self) -> list[str]:
        """The ``patc run`` flags that give another process (a ``torchrun`` rank) these options."""
        args = ["--device", self.device, "--autocast", self.autocast]
        if self.compile:
            args += ["--compile", self.compile]
        if self.chain_group:
            args += ["--chain-group", str(self.chain_group)]
        if self.workers:
            args += ["--workers", str(self.workers)]
        return args


__all__ = ["RunOptions", "AUTOCAST_MODES"]

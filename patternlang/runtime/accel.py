"""Accelerator settings of a run: reduced-precision observation, ``torch.compile``, chain batching.

All three are opt-in or automatic and leave CPU runs unchanged:

* ``RunOptions.autocast`` (``patc run --autocast``): ``bf16`` evaluates the observables and
  component losses at each draw under ``torch.autocast(dtype=bfloat16)``; ``tf32`` lets float32
  matmuls of the observation use TF32 tensor cores (``torch.set_float32_matmul_precision("high")``,
  a no-op on CPU). The SGLD update itself always stays in float32 and the co-moments in float64.
  Observed values change at the level of bf16/tf32 rounding (relative ~1e-2 / ~1e-3 per value),
  and χ is *not* bit-identical to a float32 run: on ``tests/distributed/tiny.pat`` (CPU, bf16)
  the χ entries moved by 0.01–1.3 standard errors (0.7 % of the largest entry). Small χ entries
  are covariances of small fluctuations, which bf16's 8-bit mantissa resolves coarsely: use bf16
  for throughput on large probe sets, and check a float32 run before trusting small entries.
* ``RunOptions.compile`` (``patc run --compile[=BACKEND]``): ``model.forward`` is wrapped by
  ``torch.compile`` (backend ``inductor`` by default; ``eager`` / ``aot_eager`` for debugging). The
  parameter names are unchanged, so ``functional_call`` and ``vmap`` over chains still apply.
* chains per batch on CUDA: :func:`measure_chain_bytes` measures one chain's peak memory (a
  forward+backward on one SGLD batch, a no-grad pass on one probe set) and :func:`chains_per_batch`
  fits as many chains as ``torch.cuda.mem_get_info`` leaves room for.

The settings come from :class:`~patternlang.runtime.options.RunOptions` (``ctx.options``); the two
that change numbers (``autocast`` other than ``off``, ``compile``) enter the sampling steps' content
hashes, so runs with and without them keep separate step directories.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import torch

from patternlang.errors import PatRuntimeError

@contextlib.contextmanager
def observation_precision(device: torch.device, mode: str) -> Iterator[None]:
    """Context in which the observation engine runs: float32 (``off``), bf16 autocast or TF32."""
    if mode == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    elif mode == "tf32":
        before = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision("high")
        try:
            yield
        finally:
            torch.set_float32_matmul_precision(before)
    else:
        yield


class PrecisionObserver:
    """Wraps an observer so each call runs under :func:`observation_precision`; every other
    attribute (``finalize``, ``reset``, names) is the wrapped observer's."""

    def __init__(self, observer: Callable, device: torch.device, mode: str):
        self.inner, self.device, self.mode = observer, device, mode

    def __call__(self, params: Any) -> Any:
        with observation_precision(self.device, self.mode):
            out = self.inner(params)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def with_precision(observer: Callable, device: torch.device, mode: str) -> Callable:
    """``observer`` itself for ``mode == "off"``, else a :class:`PrecisionObserver`."""
    return observer if mode == "off" else PrecisionObserver(observer, device, mode)


def maybe_compile(model: torch.nn.Module, backend: str | None) -> torch.nn.Module:
    """Compile ``model.forward`` in place with ``backend`` (``None``: leave it; names and
    parameters unchanged, so ``functional_call``/``vmap`` still work); return the model."""
    if backend:
        model.forward = torch.compile(model.forward, backend=backend)  # type: ignore[method-assign]
    return model


def chains_per_batch(free_bytes: int, per_chain_bytes: int, chains: int,
                     safety: float = 0.8) -> int:
    """How many chains fit in ``safety * free_bytes`` at ``per_chain_bytes`` each (1 to ``chains``).

    >>> chains_per_batch(10_000, 1_000, 64)
    8
    """
    if per_chain_bytes <= 0:
        return chains
    return max(1, min(chains, int(safety * free_bytes) // int(per_chain_bytes)))


def measure_chain_bytes(model: torch.nn.Module, loss_fn: Callable, batch: dict,
                        probe_batch: dict | None = None) -> int:
    """Peak CUDA memory of one chain: its state (weights, gradient, noise, center copy: 4x the
    parameters) plus the larger of one forward+backward on ``batch`` and one no-grad forward on
    ``probe_batch`` (with attention, as the observers run it)."""
    dev = next(model.parameters()).device
    if dev.type != "cuda":
        raise PatRuntimeError("sample", "chain memory is measured on CUDA only",
                              "call measure_chain_bytes with a model on a GPU")
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    peaks = []
    for fn in (_backward_pass(model, loss_fn, batch), _probe_pass(model, probe_batch)):
        if fn is None:
            continue
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        fn()
        torch.cuda.synchronize(dev)
        peaks.append(torch.cuda.max_memory_allocated(dev) - base)
    model.zero_grad(set_to_none=True)
    return int(4 * params + max(peaks))


def _backward_pass(model: torch.nn.Module, loss_fn: Callable, batch: dict) -> Callable[[], None]:
    def run() -> None:
        loss_fn(model, batch).mean().backward()
    return run


def _probe_pass(model: torch.nn.Module, probe_batch: dict | None) -> Callable[[], None] | None:
    if probe_batch is None:
        return None

    @torch.no_grad()
    def run() -> None:
        try:
            model(probe_batch["tokens"], return_attention=True)
        except TypeError:  # models without attention capture
            model(probe_batch["tokens"])
    return run


def free_cuda_bytes(device: torch.device) -> int:
    """Free memory on ``device`` now (``torch.cuda.mem_get_info``)."""
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)

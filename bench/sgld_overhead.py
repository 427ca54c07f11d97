"""Benchmark: cost of one SGLD step per chain relative to one plain forward+backward.

Model: 2-layer attention-only LM (vocab 512, d_model 128, 8 heads of 16, context 64, no MLP), batch 32,
4 chains batched by ``run_sgld``, one torch thread. Headline ``ratio`` = (seconds per SGLD step /
chains) / (seconds per forward+backward of one batch of 32 in PLAIN TORCH — ``bench/_plain_torch.py``,
a hand-written implementation of the same network with ``nn.Linear``, fused QKV, the fused attention
kernel and ``F.cross_entropy``; issue 16's floor). Goal <= 1.05.

A plain pass runs between every two SGLD steps (so both see the same load on a shared machine); each
figure is the mean of the faster half of its samples. ``ratio_vs_own_forward`` is the older figure:
against ``model(tokens)`` -> mean next-token loss -> ``.backward()`` with patternlang's own module
(whose ``forward`` runs the same kernels as the native chain-batched forward with one chain). The
sampler's default (``batching="auto"``: on a CPU and at this size the native chain-batched forward
chain by chain) is the headline; ``batched``, ``loop`` and ``vmap`` are reported against their own
paired passes. When devinterp is importable its optimizer step is timed on the same model and batch.

Clock: CPU seconds of this process (``time.process_time``; one torch thread, so the time on an idle
core) by default: on a shared, loaded machine wall-clock pairs carried ±10 % of noise from the other
jobs (five runs of issue 16 at load 3-4: 0.99-1.17); ``--wall`` times wall-clock seconds as before.

Usage: ``PYTHONPATH=. python bench/sgld_overhead.py [--steps 30] [--wall]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from _plain_torch import from_patternlang, time_fwd_bwd
from patternlang.engine.sampler.sgld import LOOP_ON_CPU_PARAMS, SGLDConfig, run_sgld
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import model_loss_fn

torch.set_num_threads(1)
VOCAB, CONTEXT, BATCH, CHAINS = 512, 64, 32, 4
PLAIN: list = []  # the plain-torch floor model (bench/_plain_torch.py), set in main
CLOCK = [time.process_time]  # CPU seconds of this one-thread process; --wall: time.perf_counter


def make_model() -> AttnOnlyTransformer:
    return AttnOnlyTransformer(vocab=VOCAB, d_model=128, n_layers=2, n_heads=8, d_head=16, context=CONTEXT, seed=0)


def make_model_params() -> int:
    return sum(p.numel() for p in make_model().parameters())


def make_batch_fn(data: torch.Tensor):
    def batch_fn(chain: int, step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, data.shape[0], (BATCH,), generator=g)
        return {"tokens": data[idx]}
    return batch_fn


def fast_half_mean(times: list[float]) -> float:
    """Mean of the faster half of the samples (robust to other jobs on a shared machine)."""
    times = sorted(times)
    half = times[: max(1, len(times) // 2)]
    return sum(half) / len(half)


def time_plain(model, loss_fn, batch_fn, steps: int, seed: int) -> list[float]:
    """Seconds of each forward+backward of one batch (parameter grads, as in training)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for rep in range(steps):
        batch = batch_fn(0, rep, g)
        t = CLOCK[0]()
        loss_fn(model, batch).mean().backward()
        model.zero_grad(set_to_none=True)
        out.append(CLOCK[0]() - t)
    return out


def time_paired(model, loss_fn, batch_fn, steps: int, seed: int, batching: str,
                floor: list[float] | None = None) -> tuple[list[float], list[float]]:
    """Seconds of each SGLD step of all chains (batch sampling, gradients, noise, update) and, between
    consecutive steps, of one plain forward+backward, so both see the same machine load.

    The plain pass runs inside the progress callback; the clock of the next SGLD step starts after it.
    The one-off L(w*) evaluation is not counted. (The sampler never reads the module's ``.grad``.)
    """
    sgld: list[float] = []
    plain: list[float] = []
    resume = [0.0]

    def progress(done: int, total: int) -> None:
        end = CLOCK[0]()
        if done > 1:  # the first step includes one-off setup
            sgld.append(end - resume[0])
        if done < total:
            with torch.enable_grad():  # progress is called under no_grad
                plain.extend(time_plain(model, loss_fn, batch_fn, 1, seed + done))
                if floor is not None:  # the plain-torch implementation of the same network
                    g = torch.Generator().manual_seed(seed + done)
                    floor.append(time_fwd_bwd(PLAIN[0], batch_fn(0, done, g)["tokens"], CLOCK[0]))
            resume[0] = CLOCK[0]()

    cfg = SGLDConfig(step_size=1e-5, gamma=100.0, num_chains=CHAINS, num_draws=steps + 1, init_loss_batches=1,
                     check_every=1, seed=seed, batching=batching)
    run_sgld(model, loss_fn, batch_fn, cfg, progress=progress)
    return sgld, plain


def time_devinterp(model, data, steps: int) -> float | None:
    try:
        import devinterp  # noqa: F401
    except ImportError:
        return None
    from devinterp.optim.sgld import SGLD  # pragma: no cover - optional
    opt = SGLD(model.parameters(), lr=1e-5, localization=100.0, nbeta=BATCH / torch.log(torch.tensor(BATCH)).item())
    loss_fn = model_loss_fn("lm")
    g = torch.Generator().manual_seed(0)
    t = CLOCK[0]()
    for step in range(steps * CHAINS):
        idx = torch.randint(0, data.shape[0], (BATCH,), generator=g)
        opt.zero_grad()
        loss_fn(model, {"tokens": data[idx]}).mean().backward()
        opt.step()
    return (CLOCK[0]() - t) / (steps * CHAINS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wall", action="store_true", help="wall-clock seconds instead of CPU seconds")
    args = ap.parse_args()
    if args.wall:
        CLOCK[0] = time.perf_counter
    data = torch.randint(0, VOCAB, (4096, CONTEXT), generator=torch.Generator().manual_seed(0))
    model, loss_fn, batch_fn = make_model(), model_loss_fn("lm"), make_batch_fn(data)
    PLAIN.append(from_patternlang(model))
    modes = ("auto", "batched", "loop", "vmap")
    plain_t: dict[str, list[float]] = {m: [] for m in modes}
    sgld_t: dict[str, list[float]] = {m: [] for m in modes}
    floor_t: list[float] = []  # plain torch, paired with the auto steps
    time_plain(model, loss_fn, batch_fn, 2, 0)  # warm-up
    for rep in range(args.rounds):
        for m in modes:
            steps, plain = time_paired(model, loss_fn, batch_fn, args.steps, rep, m,
                                       floor_t if m == "auto" else None)
            sgld_t[m] += steps
            plain_t[m] += plain
    # each mode against the plain passes interleaved with ITS steps (same load)
    ratio = {m: fast_half_mean(sgld_t[m]) / CHAINS / fast_half_mean(plain_t[m]) for m in modes}
    plain = fast_half_mean(plain_t["auto"])
    per_step = {m: fast_half_mean(t) for m, t in sgld_t.items()}
    per_chain = per_step["auto"] / CHAINS
    dev = time_devinterp(make_model(), data, args.steps)
    torch_floor = fast_half_mean(floor_t)
    out = {"bench": "sgld_overhead", "ratio": round(per_chain / torch_floor, 4), "goal": 1.05,
           "ratio_vs_plain_torch": round(per_chain / torch_floor, 4), "plain_torch_fwd_bwd_ms": round(torch_floor * 1e3, 3),
           "ratio_vs_own_forward": round(ratio["auto"], 4),
           "plain_fwd_bwd_ms": round(plain * 1e3, 3), "sgld_step_ms_all_chains": round(per_step["auto"] * 1e3, 3),
           "sgld_step_ms_per_chain": round(per_chain * 1e3, 3), "chains": CHAINS, "batch": BATCH,
           "ratio_batching_loop": round(ratio["loop"], 4), "ratio_batching_vmap": round(ratio["vmap"], 4),
           "ratio_batching_batched": round(ratio["batched"], 4),
           "auto_resolves_to": "loop (native)" if make_model_params() >= LOOP_ON_CPU_PARAMS else "batched (native)",
           "samples": {"plain_per_mode": len(plain_t["auto"]), "sgld_steps_per_mode": len(sgld_t["auto"])},
           "devinterp": "skipped (not installed)" if dev is None else {
               "ms_per_chain_step": round(dev * 1e3, 3), "ratio": round(dev / plain, 4),
               "speedup": round(dev / per_chain, 3)},
           "clock": "wall" if args.wall else "cpu", "load": round(os.getloadavg()[0], 2),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
           "machine": platform.processor() or platform.machine()}
    print(f"plain forward+backward: {plain * 1e3:.2f} ms (plain torch {torch_floor * 1e3:.2f} ms); "
          f"SGLD step/chain: {per_chain * 1e3:.2f} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

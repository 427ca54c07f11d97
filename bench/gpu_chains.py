"""GPU benchmark: batched chains and per-token χ throughput on the paper-size model.

Model: 2-layer attention-only LM, 8 heads per layer (16 heads), d_model 256 (d_head 32), context
1024, vocab 5000 (the Patterning / Structural Inference architecture).

1. ``ratio`` = wall time of ``run_sgld`` with 8 chains batched ÷ with 1 chain (same steps, batch,
   model; goal ≤ 2: eight chains cost at most two chains' time when batched on one GPU).
2. Per-token χ: one draw's observation = a vmapped forward over a probe of P tokens for C chains
   (per-token losses ℓ_xy and the 16 heads' previous-token scores from the same pass) plus the
   float64 co-moment update (``Comoments``, M = 16 heads × K = P tokens). Measured as
   token-draws per second, then extrapolated to the Structural Inference protocol: 16 head
   components, each a restricted chain set of ``--chains`` (4) chains × ``--draws`` (100) draws
   after ``--burnin`` steps, one SGLD step per draw at batch ``--batch``, N = 20,000 probe tokens:
   ``minutes = 16 × [(burnin + draws) × t_step + draws × (N / P) × t_obs] / 60`` (goal < 10).

Without CUDA it prints one JSON line with ``"skipped"`` (``--cpu-smoke`` runs tiny sizes on CPU to
check the code path; those figures mean nothing). Usage: ``PYTHONPATH=. python bench/gpu_chains.py``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from patternlang.engine.moments import Comoments
from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import model_loss_fn

PAPER = dict(vocab=5000, d_model=256, n_layers=2, n_heads=8, d_head=32, context=1024)
SMOKE = dict(vocab=50, d_model=16, n_layers=2, n_heads=8, d_head=2, context=16)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_chains(model, device, chains: int, steps: int, batch: int) -> float:
    """Seconds per SGLD step of ``chains`` chains batched (after one warm-up call)."""
    vocab, ctx = model.embed.W_E.shape[0], model.pos_embed.W_pos.shape[0]
    data = torch.randint(0, vocab, (64 * batch, ctx), generator=torch.Generator().manual_seed(0))

    def batch_fn(chain, t, g):
        idx = torch.randint(0, data.shape[0], (batch,), generator=g)
        return {"tokens": data[idx].to(device)}

    def run(n_steps: int) -> float:
        cfg = SGLDConfig(step_size=1e-4, gamma=300.0, nbeta=30.0, num_chains=chains,
                         num_draws=n_steps, burnin=0, thin=1, seed=0, init_loss_batches=1)
        _sync(device)
        t0 = time.perf_counter()
        run_sgld(model, model_loss_fn("lm"), batch_fn, cfg)
        _sync(device)
        return time.perf_counter() - t0

    run(2)  # warm-up (kernels, allocator)
    short, long = run(2), run(2 + steps)
    return (long - short) / steps  # the difference removes fixed per-call costs (init loss)


def time_observation(model, device, chains: int, probe_seqs: int, reps: int) -> tuple[float, int]:
    """Seconds per draw of per-token observation for ``chains`` chains; tokens per draw."""
    from torch.func import functional_call, vmap

    vocab, ctx = model.embed.W_E.shape[0], model.pos_embed.W_pos.shape[0]
    H = model.n_heads * model.n_layers
    tokens = torch.randint(0, vocab, (probe_seqs, ctx), generator=torch.Generator().manual_seed(1))
    tokens = tokens.to(device)
    base = dict(model.named_parameters())
    params = {k: v.detach()[None].repeat(chains, *[1] * v.dim()) for k, v in base.items()}
    K = probe_seqs * (ctx - 1)
    moments = Comoments(chains, H, K)

    def one(p):
        logits, attn = functional_call(model, p, (tokens,), {"return_attention": True})
        logp = torch.log_softmax(logits[:, :-1].float(), -1)
        loss = -logp.gather(-1, tokens[:, 1:, None])[..., 0]  # [n, T-1] per-token losses
        prev = attn.diagonal(offset=-1, dim1=-2, dim2=-1).mean((1, 3))  # [layers, H]
        return prev.reshape(-1), loss.reshape(-1)

    @torch.no_grad()
    def draw():
        x, y = vmap(one)(params)
        moments.update(x, y - y.mean(1, keepdim=True))

    draw()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        draw()
    _sync(device)
    return (time.perf_counter() - t0) / reps, K


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8, help="sequences per SGLD step (ratio part)")
    ap.add_argument("--probe-seqs", type=int, default=8, help="probe sequences per observed draw")
    ap.add_argument("--chains", type=int, default=4, help="chains per head component (χ part)")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--burnin", type=int, default=0)
    ap.add_argument("--sgld-batch", type=int, default=64, help="SGLD batch of the χ protocol")
    ap.add_argument("--tokens", type=int, default=20_000)
    ap.add_argument("--components", type=int, default=16)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on CPU (code path only)")
    args = ap.parse_args()
    if not torch.cuda.is_available() and not args.cpu_smoke:
        print(json.dumps({"bench": "gpu_chains", "ratio": None,
                          "skipped": "no CUDA device visible (run on a GPU machine)"}))
        return
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu_smoke else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 figures; tf32 is opt-in
    torch.set_num_threads(1) if device.type == "cpu" else None
    sizes = SMOKE if args.cpu_smoke else PAPER
    model = AttnOnlyTransformer(**sizes, seed=0).to(device)
    t1 = time_chains(model, device, 1, args.steps, args.batch)
    t8 = time_chains(model, device, 8, args.steps, args.batch)
    # chi protocol: SGLD step at the protocol's batch (chunks of --batch if it does not fit)
    t_step = time_chains(model, device, args.chains, args.steps, args.batch) * args.sgld_batch / args.batch
    t_obs, K = time_observation(model, device, args.chains, args.probe_seqs, max(3, args.steps))
    per_component = (args.burnin + args.draws) * t_step + args.draws * (args.tokens / K) * t_obs
    minutes = args.components * per_component / 60
    out = {"bench": "gpu_chains", "ratio": round(t8 / t1, 4), "goal": 2.0,
           "one_chain_step_ms": round(1e3 * t1, 3), "eight_chain_step_ms": round(1e3 * t8, 3),
           "batch": args.batch, "model": sizes,
           "chi_token_draws_per_s": round(args.chains * K / t_obs, 1),
           "chi_obs_ms_per_draw": round(1e3 * t_obs, 3), "probe_tokens": K,
           "chi_minutes_16heads_20k_tokens": round(minutes, 3), "chi_goal_minutes": 10,
           "chi_protocol": {"components": args.components, "chains": args.chains,
                            "draws": args.draws, "burnin": args.burnin,
                            "sgld_batch": args.sgld_batch, "tokens": args.tokens,
                            "sgld_step_ms_scaled": round(1e3 * t_step, 3)},
           "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (smoke)",
           "torch": torch.__version__}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Observation overhead per draw, as a ratio to the floor (plain forward passes), same run.

Model: the sampler benchmark's 2-layer attention-only LM (vocab 512, d_model 128, 8 heads of 16,
context 64), 4 chains. Per draw: 8 component probe batches of 32 x 64 tokens, plus the induction and
previous-token scores (all heads, both layers) on their own 32 x 64 repeated-tokens probe.

* observe: ``observer(params)`` — losses of the 8 components, mixture loss, the 2 x 8 x 2 head
  scores, and the co-moment update.
* floor (headline, issue 16): the same 9 probe batches, 4 chains each, through the PLAIN TORCH
  implementation of the network (``bench/_plain_torch.py``: ``nn.Linear``, fused QKV, the fused
  attention kernel) with its mean next-token cross-entropy, no_grad — what a careful hand-written
  observation loop costs (it returns no attention patterns, which the head scores need).
* native floor: the 9 batches through the model's natively chain-batched forward
  (``chain_batched_forward``), logits only (``native_floor_ms``); the older floor,
  ``vmap(functional_call(model, ...))``, too (``vmap_floor_ms``).

Clock: CPU seconds of this one-thread process (``time.process_time``) by default — wall-clock medians
of 5 interleaved passes read 1.13-1.44 in five runs at load 3-4 where CPU seconds read ~1.14 —;
``BENCH_CLOCK=wall`` times wall-clock seconds as before.

Last line: JSON with ``bench`` and ``ratio`` (observe / plain-torch floor; goal <= 1.10; devinterp
2.0.1 measured 1.56 against the native floor).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _plain_torch import from_patternlang  # noqa: E402

from patternlang.models.attn_only import AttnOnlyTransformer  # noqa: E402
from patternlang.observables import build_observer  # noqa: E402
from patternlang.plan.ir import ObsExpr, ObservableSpec  # noqa: E402

VOCAB, D_MODEL, HEADS, D_HEAD, CTX, CHAINS, PROBE, N_COMP = 512, 128, 8, 16, 64, 4, 32, 8


class Tokens:
    task = "lm"

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def sample(self, n, g):
        return {"tokens": torch.randint(self.lo, self.hi, (n, CTX), generator=g)}


def main(reps: int = 30) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=D_MODEL, n_layers=2, n_heads=HEADS,
                                d_head=D_HEAD, context=CTX, seed=0)
    comps = {f"c{k}": Tokens(k * 32, VOCAB) for k in range(N_COMP)}
    mix = {k: 1.0 for k in comps}
    prim = lambda name, **a: ObsExpr(op="prim", name=name, args=a)  # noqa: E731
    specs = [ObservableSpec(name=f"ih{layer}", expr=prim("induction_score", layer=layer)) for layer in (0, 1)]
    specs += [ObservableSpec(name=f"pt{layer}", expr=prim("previous_token_score", layer=layer))
              for layer in (0, 1)]
    obs = build_observer(model, specs, comps, mix, probe=PROBE, seed=0, nbeta=PROBE / 3.47,
                         fuse=os.environ.get("OBS_FUSE", "0") == "1")
    g = torch.Generator().manual_seed(1)
    params = {k: (v.detach()[None] + 0.01 * torch.randn((CHAINS, *v.shape), generator=g))
              for k, v in model.named_parameters()}
    probes = [b["tokens"] for b in obs.ctx.probes.values()]
    assert len(probes) == N_COMP + 1 and all(p.shape == (PROBE, CTX) for p in probes)

    plain = from_patternlang(model)

    def torch_floor():
        with torch.no_grad():
            for tokens in probes:
                for _ in range(CHAINS):
                    plain.loss(tokens)

    def floor():
        with torch.no_grad():
            for tokens in probes:
                model.chain_batched_forward(params, tokens[None].expand(CHAINS, *tokens.shape))

    def vmap_floor():
        with torch.no_grad():
            for tokens in probes:
                torch.func.vmap(lambda p: torch.func.functional_call(model, p, (tokens,)))(params)

    def observe():
        obs(params)

    for f in (torch_floor, floor, vmap_floor, observe):  # warm up
        f()
        f()
    wall = os.environ.get("BENCH_CLOCK", "cpu") == "wall"
    clock = time.perf_counter if wall else time.process_time
    t_torch, t_floor, t_vmap, t_obs = [], [], [], []
    for _ in range(reps):  # interleaved, so drifts in machine load hit all alike
        for f, acc in ((torch_floor, t_torch), (floor, t_floor), (vmap_floor, t_vmap), (observe, t_obs)):
            t0 = clock()
            f()
            acc.append(clock() - t0)
    fl, ob, tf = statistics.median(t_floor), statistics.median(t_obs), statistics.median(t_torch)
    return {"bench": "observe_overhead", "ratio": round(ob / tf, 4), "ratio_vs_plain_torch": round(ob / tf, 4),
            "ratio_vs_native_floor": round(ob / fl, 4), "observe_ms": round(1e3 * ob, 2),
            "plain_torch_floor_ms": round(1e3 * tf, 2),
            "native_floor_ms": round(1e3 * fl, 2), "vmap_floor_ms": round(1e3 * statistics.median(t_vmap), 2),
            "chains": CHAINS, "probes": N_COMP + 1,
            "probe_shape": [PROBE, CTX], "observables": len(obs.obs_names), "goal": 1.10,
            "clock": "wall" if wall else "cpu", "load": round(os.getloadavg()[0], 2),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


if __name__ == "__main__":
    print(json.dumps(main(int(os.environ.get("BENCH_REPS", "30")))))

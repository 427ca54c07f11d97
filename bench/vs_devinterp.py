"""patternlang vs devinterp on devinterp's own susceptibility workload, same machine, same run.

Speed only: the two χ compared here are different quantities (patternlang's rows are component
losses under the posterior, devinterp's the head-restricted loss change). For the SAME quantity,
entry by entry, see ``bench/component_vs_devinterp.py`` (issue 24: patternlang's component
susceptibilities with ``definition="devinterp"``).

Workload (issue 16): a 2-layer attention-only LM (vocab 512, d_model 128, 8 heads of 16, context 64,
271 872 parameters, the seeded initialisation of ``AttnOnlyTransformer(seed=0)``); 8 data
components (first-order Markov text, ``markov_text(vocab=512, length=64, seed=k)``); every component
observed at every draw on a probe of 32 sequences (the SAME 32 sequences for both libraries); two
samplings — all weights, and one head (``l1h0``); each 4 chains x 100 draws, batch 32, nβ 30, γ 100,
ε 1e-4, L(w*) from 8 batches; one torch thread per process.

* patternlang: ``run_sgld`` with the observer of the 8 component losses (``loss(ck)``), chains in
  groups of 2 (the runtime's CPU grouping), batches drawn fresh from the mixture at every step.
  Timed twice: the 4 units (2 samplings x 2 groups) one after another in this process
  (``pl_seconds_1proc``), and spread over ``cpu_workers`` processes (``pl_seconds_default``; the
  default on this machine); the two χ must be bit-identical (``identical``).
* devinterp: its public ``devinterp.slt.susceptibilities.susceptibilities`` on the same model,
  ``weight_restrictions={"full": None, "l1h0": <masks of that head>}``, the 8 components as
  observables (1 batch of 32 per draw), ``sampling_task="c0"`` with ``include_sampling_task=True``
  (so both libraries run 8 probe passes per draw), 3 200 mixture sequences as its dataset (one
  epoch of 100 batches), ``num_init_loss_batches=8``. Skipped with a message when not installed
  (``pip install -e '.[bench]'``).
* floor: a plain torch implementation of the network (``bench/_plain_torch.py``): the workload's
  passes — 2 x 4 x 100 forward+backward of a batch of 32 and 2 x 4 x 100 x 8 no-grad forwards of a
  probe of 32 — timed here, interleaved with nothing else (``floor_seconds``).

χ standard errors at equal draws: patternlang's χ[loss(c0), ck] of the head sampling (its own
batch-means/between-chain SE) and devinterp's head susceptibility of c0 toward each ck (mean over
tokens), its SE the between-chain spread of devinterp's ``compute_susceptibilities`` run on each
chain alone, / √4. The two χ are different estimators of related quantities, so each is judged by
its own relative SE (mean SE / mean |χ|); ``seconds_to_target`` scales each library's time to a
relative SE of 0.1 (SE ∝ 1/√draws). The center w* is the network after 100 seeded Adam steps on the
mixture (at the random init every χ is ~0 and a relative SE means nothing).

Clocks: this machine is shared (load averages of 15-20 on 2 cores during the runs of issue 16), so
wall times measure the load as much as the work. The headline figures use CPU seconds
(``time.process_time``; helpers' CPU through ``getrusage(RUSAGE_CHILDREN)``): with one thread per
process that is the time on an idle core. ``speedup_default`` is devinterp's CPU seconds / the
busiest patternlang process's CPU seconds with the default process count (what two idle cores
would take); the wall-clock versions are reported beside (``*_wall``).

Data generation: patternlang draws every minibatch fresh from the Markov-text mixture inside its
clock (``pl_data_cpu_1proc``; 32 x 64 tokens over vocab 512 cost about as much as one forward pass,
for the stream-preserving exponential-variate sampler); devinterp is handed a pre-generated dataset
whose generation runs outside its clock (``devinterp_data_cpu_outside_clock``).
``speedup_without_data`` divides devinterp's CPU seconds by patternlang's minus its data generation:
the two libraries' sampling and observation on equal terms. ``pl_cpu_by_sampling`` splits
patternlang's one-process CPU seconds by sampling (``full``, ``l1h0``), ``pl_batching`` says which
gradient route each ran (``heads l1[0]``: the head-split forward of ``models/attn_heads.py``).

Usage: ``PYTHONPATH=. python bench/vs_devinterp.py [--draws 100] [--quick] [--profile]``. Last line:
JSON with ``bench``, ``ratio`` = ``speedup`` (devinterp CPU s / patternlang CPU s, one process each)
and ``speedup_default`` (patternlang with its default process count).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VOCAB, D_MODEL, HEADS, D_HEAD, CTX, LAYERS = 512, 128, 8, 16, 64, 2
N_COMP, PROBE, BATCH, NBETA, GAMMA, EPS, CHAINS, INIT_BATCHES = 8, 32, 32, 30.0, 100.0, 1e-4, 4, 8
HEAD = (1, 0)
SAMPLINGS = {"full": (), "l1h0": (f"l{HEAD[0]}h{HEAD[1]}",)}
TARGET_REL_SE = 0.1


def make_model(center: str | None = None):
    """The workload's network; with ``center``, the weights saved there (the trained w*)."""
    from patternlang.models.attn_only import AttnOnlyTransformer

    model = AttnOnlyTransformer(vocab=VOCAB, d_model=D_MODEL, n_layers=LAYERS, n_heads=HEADS,
                                d_head=D_HEAD, context=CTX, seed=0)
    if center is not None:
        model.load_state_dict(torch.load(center))
    return model


def train_center(path: Path, steps: int) -> str:
    """w*: ``steps`` Adam steps (lr 3e-3, batch 32, seeded) on the mixture, saved to ``path``."""
    from patternlang.data.mixture import Mixture
    from patternlang.models.losses import model_loss_fn

    model, loss_fn = make_model(), model_loss_fn("lm")
    mixture = Mixture(list(make_components().values()), [1.0] * N_COMP)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(7)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model, mixture.sample(BATCH, g)[0]).mean().backward()
        opt.step()
    torch.save(model.state_dict(), path)
    return str(path)


def make_components() -> dict:
    from patternlang.data.synthetic import markov_text

    return {f"c{k}": markov_text(vocab=VOCAB, length=CTX, order=1, seed=k) for k in range(N_COMP)}


def loss_specs() -> list:
    from patternlang.plan.ir import ObsExpr, ObservableSpec

    return [ObservableSpec(name=f"loss_c{k}", expr=ObsExpr(op="prim", name="loss", args={"component": f"c{k}"}))
            for k in range(N_COMP)]


def pl_unit(unit: tuple[str, list[int], int, str]) -> dict:
    """One patternlang chain group: (sampling, chain ids, draws, center path) -> co-moments, LLC, seconds."""
    from patternlang.data.mixture import Mixture
    from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
    from patternlang.models.losses import model_loss_fn
    from patternlang.observables.observer import build_observer

    name, chains, draws, center = unit
    torch.set_num_threads(1)
    t0, cpu0 = time.perf_counter(), time.process_time()
    model, comps = make_model(center), make_components()
    mix = {k: 1.0 for k in comps}
    obs = build_observer(model, loss_specs(), comps, mix, probe=PROBE, seed=0, nbeta=NBETA)
    mixture = Mixture(list(comps.values()), [1.0] * N_COMP)
    cfg = SGLDConfig(step_size=EPS, gamma=GAMMA, nbeta=NBETA, num_chains=CHAINS, num_draws=draws,
                     seed=0, restrict=SAMPLINGS[name], init_loss_batches=INIT_BATCHES)
    data_cpu = [0.0]  # CPU seconds spent generating the minibatches (Markov text)

    def batch_fn(c: int, t: int, g: torch.Generator) -> dict:
        start = time.process_time()
        batch = mixture.sample(BATCH, g)[0]
        data_cpu[0] += time.process_time() - start
        return batch

    res = run_sgld(model, model_loss_fn("lm"), batch_fn, cfg, observer=obs, chain_ids=chains)
    return {"moments": obs.reset().state_dict(), "llc_per_chain": res.llc_per_chain.tolist(),
            "seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0, "data_cpu": data_cpu[0],
            "batching": res.extra["batching"]}


class Clock:
    """Wall seconds, and CPU seconds of this process and of its finished child processes: on a shared,
    loaded machine the CPU seconds of a one-thread process measure its work (wall time measures the
    load too)."""

    def __init__(self):
        self.wall, self.cpu, self.children = time.perf_counter(), time.process_time(), _children_cpu()

    def read(self) -> dict[str, float]:
        return {"wall": time.perf_counter() - self.wall, "cpu": time.process_time() - self.cpu,
                "children_cpu": _children_cpu() - self.children}


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_patternlang(draws: int, workers: int, center: str) -> tuple[dict, dict]:
    """Both samplings, chains in groups of 2, over ``workers`` processes: (:class:`Clock` reading,
    χ per sampling)."""
    from patternlang.engine.chi import estimate_chi
    from patternlang.engine.moments import Comoments
    from patternlang.engine.sampler.pool import map_units

    units = [(name, [c, c + 1], draws, center) for name in SAMPLINGS for c in range(0, CHAINS, 2)]
    clock = Clock()
    outs = map_units(pl_unit, units, workers)
    seconds = clock.read()
    seconds["by_sampling"] = {name: {k: round(sum(o[k] for u, o in zip(units, outs) if u[0] == name), 2)
                                     for k in ("cpu", "data_cpu")} for name in SAMPLINGS}
    seconds["batching"] = {u[0]: o["batching"] for u, o in zip(units, outs)}
    chis = {}
    for name in SAMPLINGS:
        moments = None
        for unit, out in zip(units, outs):
            if unit[0] == name:
                m = Comoments.from_state(out["moments"])
                moments = m if moments is None else moments.merge(m)
        chis[name] = estimate_chi(moments)
    return seconds, chis


def _dataset(tokens: torch.Tensor):
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": tokens.tolist()}).with_format("torch")


def head_masks(model) -> dict:
    """devinterp ``ParamMasks`` for head ``HEAD``: that head's slice of each of its attention weights."""
    masks = {}
    for name, index in model.head_parameters(*HEAD).items():
        mask = torch.zeros_like(dict(model.named_parameters())[name], dtype=torch.bool)
        mask[index] = True
        masks[name] = mask
    return masks


def run_devinterp(draws: int, probes: dict[str, torch.Tensor], workdir: Path, center: str
                  ) -> tuple[dict, dict] | None:
    """devinterp's ``susceptibilities`` on the workload: (seconds, per-component χ and SE of the head)."""
    try:
        from devinterp.slt.susceptibilities import compute_susceptibilities, susceptibilities
    except ImportError:
        return None
    import xarray as xr

    from patternlang.data.mixture import Mixture

    torch.set_num_threads(1)
    comps = make_components()
    g = torch.Generator().manual_seed(12345)
    data_cpu = time.process_time()  # devinterp's dataset is generated here, outside its clock
    data = Mixture(list(comps.values()), [1.0] * N_COMP).sample(BATCH * draws, g)[0]["tokens"]
    data_cpu = time.process_time() - data_cpu
    model = make_model(center)
    clock = Clock()
    susceptibilities(
        model, _dataset(data), {k: (_dataset(v), 1) for k, v in probes.items()},
        {"full": None, "l1h0": head_masks(model)}, sampling_task="c0", include_sampling_task=True,
        lr=EPS, n_beta=NBETA, localization=GAMMA, num_chains=CHAINS, num_draws=draws, batch_size=BATCH,
        num_init_loss_batches=INIT_BATCHES, output_path=workdir / "samples.zarr")
    seconds = clock.read()
    seconds["data_cpu"] = data_cpu
    trees = {wr: xr.open_datatree(str(workdir / f"samples_{wr}.zarr"), engine="zarr", consolidated=False)
             for wr in ("full", "l1h0")}
    per_chain = []
    for c in range(CHAINS):
        one = {wr: t.isel(chain=[c]) for wr, t in trees.items()}
        per_chain.append(_mean_sus(compute_susceptibilities(one, "c0", include_sampling_task=True)))
    chi = _mean_sus(compute_susceptibilities(trees, "c0", include_sampling_task=True))
    spread = np.array([[pc[k] for k in probes] for pc in per_chain])
    se = spread.std(axis=0, ddof=1) / math.sqrt(CHAINS)
    return seconds, {"chi": [chi[k] for k in probes], "se": se.tolist()}


def _mean_sus(tree) -> dict[str, float]:
    """devinterp's head susceptibility per observable, averaged over its tokens."""
    ds = tree["susceptibilities"].dataset
    names = ds.attrs["dataset_id_to_name"]
    sus = ds["sus"].sel(wr="l1h0").values
    ids = ds["dataset_id"].values
    return {names[i]: float(sus[ids == i].mean()) for i in range(len(names))}


def floor_seconds(draws: int, center: str, reps: int = 3) -> float:
    """The workload's network passes in plain torch: 2 x 4 x draws fwd+bwd + 8x that many forwards."""
    from _plain_torch import from_patternlang, time_forward, time_fwd_bwd

    plain = from_patternlang(make_model(center))
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, VOCAB, (BATCH, CTX), generator=g)
    time_fwd_bwd(plain, tokens), time_forward(plain, tokens)  # warm-up
    cpu = time.process_time  # CPU seconds, as the libraries' headline figures
    fb = sorted(time_fwd_bwd(plain, tokens, cpu) for _ in range(reps * 5))[: 2 * reps]
    fw = sorted(time_forward(plain, tokens, cpu) for _ in range(reps * 5))[: 2 * reps]
    steps = len(SAMPLINGS) * CHAINS * draws
    return steps * (sum(fb) / len(fb) + N_COMP * sum(fw) / len(fw))


def quality(seconds: float, chi: list[float], se: list[float]) -> dict:
    """Relative SE (mean SE / mean |χ| of the row) and the seconds to bring it to ``TARGET_REL_SE``
    at this rate (SE falls like 1/√draws), so speed is compared at equal statistical quality."""
    rel = float(np.nanmean(se) / np.nanmean(np.abs(chi)))
    return {"chi": chi, "se": se, "rel_se": round(rel, 4),
            "seconds_to_target": round(seconds * (rel / TARGET_REL_SE) ** 2, 1) if math.isfinite(rel) else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="20 draws (smoke size)")
    ap.add_argument("--train-steps", type=int, default=100, help="Adam steps to the center w*")
    ap.add_argument("--workers", type=int, default=None, help="patternlang processes (default: cores)")
    ap.add_argument("--profile", action="store_true", help="print where one chain group's time goes, per op")
    args = ap.parse_args()
    draws = 20 if args.quick else args.draws
    if args.profile:
        return profile(draws, args.train_steps)
    torch.set_num_threads(1)
    from patternlang.engine.sampler.pool import cpu_workers

    workers = cpu_workers(len(SAMPLINGS) * CHAINS // 2, args.workers)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        center = train_center(Path(tmp) / "center.pt", args.train_steps)
        pl_1, chi_1 = run_patternlang(draws, 1, center)
        dev = run_devinterp(draws, _probe_tokens(center), Path(tmp), center)
        pl_w, chi_w = run_patternlang(draws, workers, center) if workers > 1 else (pl_1, chi_1)
        floor = floor_seconds(draws, center)
    identical = all(np.array_equal(chi_1[n].chi, chi_w[n].chi) and np.array_equal(chi_1[n].se, chi_w[n].se)
                    for n in SAMPLINGS)
    head = chi_1["l1h0"]  # row loss(c0): devinterp's φ is the c0 loss
    pl_cpu = pl_1["cpu"]
    # two idle cores: the run takes as long as its busiest process (this one, or the helper)
    pl_two = max(pl_w["cpu"], pl_w["children_cpu"]) if workers > 1 else pl_cpu
    out = {"bench": "vs_devinterp", "settings": {
        "model": f"attn-only {LAYERS} layers, vocab {VOCAB}, d_model {D_MODEL}, {HEADS} heads, context {CTX}",
        "params": sum(p.numel() for p in make_model().parameters()), "components": N_COMP,
        "probe": PROBE, "samplings": list(SAMPLINGS), "chains": CHAINS, "draws": draws, "batch": BATCH,
        "nbeta": NBETA, "gamma": GAMMA, "eps": EPS, "center": f"{args.train_steps} Adam steps",
        "threads_per_process": 1, "clock": "CPU seconds (process_time); wall seconds beside"},
        "pl_cpu_1proc": round(pl_cpu, 2), "pl_wall_1proc": round(pl_1["wall"], 2),
        "pl_cpu_by_sampling": pl_1["by_sampling"], "pl_batching": pl_1["batching"],
        "pl_data_cpu_1proc": round(sum(v["data_cpu"] for v in pl_1["by_sampling"].values()), 2),
        "pl_wall_default": round(pl_w["wall"], 2), "pl_cpu_busiest_default": round(pl_two, 2),
        "workers_default": workers, "identical": identical,
        "floor_cpu": round(floor, 2), "pl_over_floor": round(pl_cpu / floor, 3),
        "patternlang": quality(pl_cpu, head.chi[0].tolist(), head.se[0].tolist()),
        "target_rel_se": TARGET_REL_SE,
        "load_start": round(load0, 2), "load_end": round(os.getloadavg()[0], 2)}
    if dev is None:
        out.update(ratio=None, speedup=None, goal=2.0,
                   skipped="devinterp not installed (pip install -e '.[bench]'); patternlang timed alone")
    else:
        dsec, d = dev
        out.update(ratio=round(dsec["cpu"] / pl_cpu, 3), speedup=round(dsec["cpu"] / pl_cpu, 3), goal=2.0,
                   speedup_default=round(dsec["cpu"] / pl_two, 3), goal_default=3.5,
                   speedup_wall=round(dsec["wall"] / pl_1["wall"], 3),
                   speedup_default_wall=round(dsec["wall"] / pl_w["wall"], 3),
                   devinterp_cpu=round(dsec["cpu"], 2), devinterp_wall=round(dsec["wall"], 2),
                   devinterp_data_cpu_outside_clock=round(dsec["data_cpu"], 2),
                   speedup_without_data=round(dsec["cpu"] / (pl_cpu - out["pl_data_cpu_1proc"]), 3),
                   devinterp_over_floor=round(dsec["cpu"] / floor, 3),
                   devinterp=quality(dsec["cpu"], d["chi"], d["se"]))
    print(json.dumps(out))


def profile(draws: int, train_steps: int) -> None:
    """Per-operation time of one patternlang chain group of each sampling (torch profiler, self CPU
    time), printed as tables: where the time goes, for RESULTS.md."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        center = train_center(Path(tmp) / "center.pt", train_steps)
        for name in SAMPLINGS:
            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                seconds = pl_unit((name, [0, 1], draws, center))["seconds"]
            print(f"## sampling {name}: chains 0-1, {draws} draws, {seconds:.1f} s")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))


def _probe_tokens(center: str) -> dict[str, torch.Tensor]:
    """The observer's probe sequences (what patternlang observes), handed to devinterp unchanged."""
    from patternlang.observables.observer import build_observer

    obs = build_observer(make_model(center), loss_specs(), make_components(), {f"c{k}": 1.0 for k in range(N_COMP)},
                         probe=PROBE, seed=0, nbeta=NBETA)
    return {k: b["tokens"] for k, b in obs.ctx.probes.items()}


if __name__ == "__main__":
    main()

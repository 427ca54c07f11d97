"""Scaling curves: wall time and peak memory of a susceptibility sampling as one axis grows.

The measured unit is what a ``sample`` step runs: ``run_sgld`` with the observer of every component's
loss (``loss(ck)``) on probes, chains batched, one torch thread. From a base configuration (attention-
only LM, vocab 128, context 32, d_model 64, 2 layers of 4 heads; 4 Markov-text components, probes of
16, batch 16, 2 chains, 100 draws) one axis at a time grows:

* model: d_model 32 -> 256 (2 layers), and layers 1 -> 4 (d_model 64);
* draws: 100 -> 10 000 on a small model (d_model 32, 1 layer, context 16, 2 components) so the long
  runs stay affordable — this axis also checks that memory is constant in draws (online moments);
* components: 2 -> 32;
* chains: 1 -> 16.

Per point: seconds (CPU seconds of this one-thread process, ``time.process_time``: on a shared,
loaded machine wall time measures the load as much as the work; wall seconds are kept beside) and
peak resident memory above the process's resident size before the
run (``VmHWM`` reset through ``/proc/self/clear_refs``; Linux). Per axis: the exponent b of a
least-squares fit seconds ≈ a·x^b on log-log axes (memory too). The figure goes to
``bench/scaling.png`` (``--plot PATH`` elsewhere).

Usage: ``PYTHONPATH=. python bench/scaling.py [--quick] [--axes draws chains]``. Last line JSON:
``ratio`` = the fitted time exponent in draws (goal <= 1.05: linear), ``memory_growth_draws`` =
peak memory at the most draws / at the fewest (goal <= 1.10: constant).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

BASE = dict(vocab=128, context=32, d_model=64, layers=2, heads=4, components=4, probe=16, batch=16,
            chains=2, draws=100)
SMALL = dict(BASE, d_model=32, layers=1, context=16, components=2, probe=8, batch=8)
AXES = {  # axis -> (parameter, values, base config)
    "d_model": ("d_model", [32, 64, 128, 256], BASE),
    "layers": ("layers", [1, 2, 3, 4], BASE),
    "draws": ("draws", [100, 1000, 3000, 10000], SMALL),
    "components": ("components", [2, 4, 8, 16, 32], BASE),
    "chains": ("chains", [1, 2, 4, 8, 16], BASE),
}
QUICK = {"d_model": [32, 64, 128], "layers": [1, 2, 3], "draws": [100, 300, 1000],
         "components": [2, 4, 8], "chains": [1, 2, 4]}


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run_point(cfg: dict) -> dict:
    """One sampling at ``cfg``: seconds and peak memory above the starting resident size (MB)."""
    from patternlang.data.mixture import Mixture
    from patternlang.data.synthetic import markov_text
    from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
    from patternlang.models.attn_only import AttnOnlyTransformer
    from patternlang.models.losses import model_loss_fn
    from patternlang.observables.observer import build_observer
    from patternlang.plan.ir import ObsExpr, ObservableSpec

    comps = {f"c{k}": markov_text(vocab=cfg["vocab"], length=cfg["context"], order=1, seed=k)
             for k in range(cfg["components"])}
    model = AttnOnlyTransformer(vocab=cfg["vocab"], d_model=cfg["d_model"], n_layers=cfg["layers"],
                                n_heads=cfg["heads"], context=cfg["context"], seed=0)
    specs = [ObservableSpec(name=f"loss_{k}", expr=ObsExpr(op="prim", name="loss", args={"component": k}))
             for k in comps]
    mixture = Mixture(list(comps.values()), [1.0] * len(comps))
    base = _rss_kb("VmRSS")
    exact = _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    obs = build_observer(model, specs, comps, {k: 1.0 for k in comps}, probe=cfg["probe"], seed=0,
                         nbeta=30.0)
    run_sgld(model, model_loss_fn("lm"), lambda c, t, g: mixture.sample(cfg["batch"], g)[0],
             SGLDConfig(step_size=1e-4, gamma=100.0, nbeta=30.0, num_chains=cfg["chains"],
                        num_draws=cfg["draws"], seed=0, check_every=50), observer=obs)
    obs.chi()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    peak = (_rss_kb("VmHWM") - base) / 1024 if exact else float("nan")
    return {"seconds": round(cpu, 3), "wall": round(wall, 3), "peak_mb": round(peak, 1), "exact_peak": exact}


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """b of y ≈ a·x^b (least squares on logs; NaN with fewer than 2 usable points)."""
    pts = [(x, y) for x, y in zip(xs, ys) if x > 0 and y > 0 and np.isfinite(y)]
    if len(pts) < 2:
        return float("nan")
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def plot(axes: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, rec in axes.items():
        x0 = rec["values"][0]
        a1.loglog([v / x0 for v in rec["values"]], [p["seconds"] / rec["points"][0]["seconds"] for p in rec["points"]],
                  "o-", label=f"{name} (b={rec['time_exponent']:.2f})")
        a2.semilogx([v / x0 for v in rec["values"]], [p["peak_mb"] for p in rec["points"]], "o-", label=name)
    a1.set(xlabel="axis value / smallest", ylabel="time / time at smallest", title="CPU time (one thread)")
    a2.set(xlabel="axis value / smallest", ylabel="peak memory above start (MB)", title="peak memory")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer, smaller points")
    ap.add_argument("--plot", type=Path, default=Path(__file__).resolve().parent / "scaling.png",
                    help="write the figure here (PNG; default bench/scaling.png)")
    ap.add_argument("--axes", nargs="+", default=list(AXES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    run_point(dict(SMALL, draws=10))  # warm-up (imports, first kernels)
    axes = {}
    for name in args.axes:
        key, values, base = AXES[name]
        values = QUICK[name] if args.quick else values
        points = [run_point(dict(base, **{key: v})) for v in values]
        axes[name] = {"values": values, "points": points,
                      "time_exponent": round(fit_exponent(values, [p["seconds"] for p in points]), 3),
                      "memory_exponent": round(fit_exponent(values, [p["peak_mb"] for p in points]), 3)}
        print(json.dumps({name: axes[name]}), flush=True)
    if args.plot:
        plot(axes, args.plot)
    draws = axes.get("draws")
    mem = draws["points"] if draws else []
    growth = (max(mem[-1]["peak_mb"], 1.0) / max(mem[0]["peak_mb"], 1.0)) if mem else None
    print(json.dumps({"bench": "scaling", "ratio": draws["time_exponent"] if draws else None, "goal": 1.05,
                      "memory_growth_draws": None if growth is None else round(growth, 3), "goal_memory": 1.10,
                      "exponents": {n: {"time": a["time_exponent"], "memory": a["memory_exponent"]}
                                    for n, a in axes.items()},
                      "axes": axes, "base": BASE, "small_base_for_draws": SMALL, "quick": args.quick,
                      "threads": 1, "load_end": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()

"""``sample``: localized SGLD at each selected checkpoint, observing at every kept draw.

For each center w* (one checkpoint, or several representative solutions) the chains run in groups;
each group is one batched sampler call whose outputs — the per-chain sampler result, the online
co-moments of observables and component losses, the thinned loss trace — are saved as a *part* with
its own done marker. An interrupted step therefore resumes at the next unfinished group, and since
every chain's random streams derive from ``(seed, chain)``, the numbers equal an uninterrupted run's.

In a distributed run (see :mod:`patternlang.runtime.distributed`) the (center, chain group) units
are split over ranks; rank 0 gathers their payloads and merges them in chain order.

Outputs: ``parts/<center>-c<first>-<last>/{sgld.json, moments.npz, trace.npz}``, ``traces.npz`` (loss per chain and draw,
all centers), ``moments-<center>.npz`` (merged per center), and the summary (LLC per center with
diagnostics).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext, runner
from patternlang.runtime.rundir import atomic_save_npz, atomic_write_json, read_json
from patternlang.runtime.steps.common import (build_components, build_model, derive_seed,
                                              load_weights, select_checkpoints)


def chain_groups(chains: int, device: torch.device, *, world: int = 1,
                 per_chain_bytes: int | None = None, free_bytes: int | None = None) -> list[list[int]]:
    """Chain ids in groups that run as one batched call (and are one resumable part each).

    ``PATTERNLANG_CHAIN_GROUP`` fixes the group size everywhere. Otherwise on a CPU groups of 2
    leave completed chains behind for --resume at the same cost per chain; on a GPU the group is as
    many chains as fit in free memory (``per_chain_bytes`` measured by
    :func:`~patternlang.runtime.accel.measure_chain_bytes`, ``free_bytes`` default
    ``torch.cuda.mem_get_info``), and at most ``ceil(chains / world)`` so every rank gets a group.
    CPU grouping never depends on ``world``: a distributed CPU run then reproduces the single-process
    run bit for bit."""
    from patternlang.runtime.accel import chains_per_batch, free_cuda_bytes

    fixed = os.environ.get("PATTERNLANG_CHAIN_GROUP")
    if fixed:
        size = int(fixed)
    elif device.type == "cuda":
        size = -(-chains // max(1, world))
        if per_chain_bytes:
            free = free_bytes if free_bytes is not None else free_cuda_bytes(device)
            size = min(size, chains_per_batch(free, per_chain_bytes, chains))
    else:
        size = 2
    size = max(1, min(size, chains))
    ids = list(range(chains))
    return [ids[i:i + size] for i in range(0, chains, size)]


def _chain_bytes(step: SampleStep, ctx: StepContext, center_path, components: dict) -> int | None:
    """One chain's peak GPU memory at this step's batch and probe sizes (``None`` off CUDA, or when
    ``PATTERNLANG_CHAIN_GROUP`` fixes the grouping)."""
    if ctx.device.type != "cuda" or os.environ.get("PATTERNLANG_CHAIN_GROUP"):
        return None
    from patternlang.models.losses import model_loss_fn
    from patternlang.runtime.accel import measure_chain_bytes

    model = load_weights(build_model(step.model, ctx), center_path)
    weights = dict(step.mixture.weights)
    g = torch.Generator().manual_seed(0)
    batch = _batch_fn(components, weights, step.sampler.batch, ctx.device)(0, 0, g)
    probe = next(iter(components.values())).sample(step.probe, g)
    probe = {k: v.to(ctx.device) for k, v in probe.items()}
    per_chain = measure_chain_bytes(model, model_loss_fn(model.task), batch, probe)
    del model
    torch.cuda.empty_cache()
    return per_chain


def sampler_config(step: SampleStep, seed: int):
    from patternlang.engine.sampler.sgld import SGLDConfig

    s = step.sampler
    return SGLDConfig(step_size=s.step, gamma=s.gamma, nbeta=s.nbeta, num_chains=s.chains,
                      num_draws=s.draws, burnin=s.burnin, thin=s.thin, seed=seed,
                      restrict=tuple(s.restrict))


def nbeta_of(step: SampleStep) -> float:
    from patternlang.engine.sampler.sgld import default_nbeta

    return float(step.sampler.nbeta) if step.sampler.nbeta else float(default_nbeta(step.sampler.batch))


def _batch_fn(components: dict, weights: dict[str, float], batch: int, device: torch.device):
    from patternlang.data.mixture import Mixture

    mixture = Mixture([components[n] for n in weights], [weights[n] for n in weights])

    def batch_fn(chain: int, t: int, g: torch.Generator) -> dict:
        b, _ = mixture.sample(batch, g)
        return {k: v.to(device) for k, v in b.items()}

    return batch_fn


def _bar_callback(bar):
    """Adapt a progress task to the sampler's ``progress(done, total)`` callback."""
    last = [0]

    def callback(done: int, total: int) -> None:
        bar.advance(done - last[0])
        last[0] = done

    return callback


def _run_group(step: SampleStep, ctx: StepContext, center_path, center_seed: int, group: list[int],
               components: dict, part_dir, init_loss: float | None) -> float:
    from patternlang.engine.sampler.sgld import run_sgld
    from patternlang.models.losses import model_loss_fn
    from patternlang.observables.observer import build_observer

    from patternlang.runtime.accel import maybe_compile, with_precision

    model = maybe_compile(load_weights(build_model(step.model, ctx), center_path))
    weights = dict(step.mixture.weights)
    nbeta = nbeta_of(step)
    observer = build_observer(model, step.observables, components, weights, probe=step.probe,
                              seed=derive_seed("probe", ctx.plan.seed, step.id),
                              per_sample=step.per_sample, nbeta=nbeta, pools=list(step.pools))
    cfg = sampler_config(step, derive_seed("sgld", ctx.plan.seed, step.sampler.seed, center_seed))
    bar = ctx.progress.task(f"{step.id}: center {center_seed} chains {group}",
                            total=cfg.total_steps, unit="step")
    result = run_sgld(model, model_loss_fn(model.task), _batch_fn(components, weights,
                      step.sampler.batch, ctx.device), cfg,
                      observer=with_precision(observer, ctx.device), chain_ids=group,
                      progress=_bar_callback(bar), init_loss=init_loss)
    bar.close()
    moments = observer.reset()
    atomic_save_npz(part_dir / "moments.npz", **moments.state_dict())
    atomic_save_npz(part_dir / "trace.npz", loss=np.asarray(result.loss_trace))
    atomic_write_json(part_dir / "sgld.json", result.to_dict())
    return result.init_loss


def _result_from_dict(d: dict):
    """Rebuild a saved chain group's :class:`SGLDResult` (estimates are recomputed)."""
    from patternlang.engine.sampler.diagnostics import Divergence
    from patternlang.engine.sampler.result import SGLDResult

    arr = lambda k: np.asarray(d[k], dtype=float)  # noqa: E731
    trace = np.array([[np.nan if x is None else x for x in row] for row in d["loss_trace"]], float)
    return SGLDResult.build(
        chain_ids=list(d["chain_ids"]), init_loss=d["init_loss"], nbeta=d["nbeta"],
        batch_size=d["batch_size"], draw_sum=arr("draw_sum"), draw_sumsq=arr("draw_sumsq"),
        draw_count=arr("draw_count"), loss_trace=trace, alive=np.asarray(d["alive"], bool),
        divergences=[Divergence(**v) for v in d["diagnostics"]["divergences"]],
        config=d["config"], seconds=d.get("seconds", 0.0))


def _center_summary(label: str, seed: int, parts: list[dict]) -> dict:
    from patternlang.engine.sampler.result import SGLDResult

    res = SGLDResult.concat([_result_from_dict(p) for p in parts])
    d = res.to_dict()
    diag = d.get("diagnostics", {})
    return {"label": label, "seed": seed, "llc_mean": d["llc_mean"], "llc_se": d["llc_se"],
            "llc_per_chain": d["llc_per_chain"], "init_loss": d["init_loss"],
            "rhat": diag.get("rhat"), "trend_ok": diag.get("trend", {}).get("equilibrated"),
            "divergent_chains": [v["chain"] for v in diag.get("divergences", [])],
            "warnings": diag.get("warnings", [])}


def _part_name(label: str, group: list[int]) -> str:
    """A chain group's part is named by its chains, so a resume with another grouping (another
    ``PATTERNLANG_CHAIN_GROUP``, GPU, or number of ranks) never mistakes one group for another."""
    return f"{label}-c{group[0]}-{group[-1]}"


def _load_part(part_dir) -> dict:
    """A finished chain group's payload: sampler result, co-moment state, loss trace."""
    return {"sgld": read_json(part_dir / "sgld.json"),
            "moments": dict(np.load(part_dir / "moments.npz")),
            "trace": np.load(part_dir / "trace.npz")["loss"]}


def _run_my_parts(step: SampleStep, ctx: StepContext, centers: list, groups: list[list[int]],
                  components: dict) -> dict[str, dict]:
    """Run (or, resuming, re-load) this rank's (center, chain group) units; payloads by part name."""
    units = [(ci, group) for ci in range(len(centers)) for group in groups]
    out: dict[str, dict] = {}
    init_loss: dict[int, float] = {}
    for ci, group in ctx.dist.mine(units):
        seed, path, _ = centers[ci]
        name = _part_name(f"seed{seed}", group)
        part_dir = ctx.dir.part(name)
        if not (ctx.resume and ctx.dir.part_done(name)):
            _run_group(step, ctx, path, seed, group, components, part_dir, init_loss.get(ci))
            ctx.dir.mark_part_done(name)
        out[name] = _load_part(part_dir)
        init_loss[ci] = out[name]["sgld"]["init_loss"]
    return out


@runner("sample", sharded=True)
def run_sample(step: SampleStep, ctx: StepContext) -> dict | None:
    from patternlang.engine.moments import Comoments

    components = build_components(step.components, ctx)
    centers = select_checkpoints(step.at, ctx, components, dict(step.mixture.weights), step.model)
    groups = ctx.dist.broadcast(chain_groups(  # rank 0's grouping (GPUs may differ in free memory)
        step.sampler.chains, ctx.device, world=ctx.dist.world,
        per_chain_bytes=_chain_bytes(step, ctx, centers[0][1], components)))
    payloads = ctx.dist.gather_dict(_run_my_parts(step, ctx, centers, groups, components))
    if payloads is None:
        return None  # not rank 0: rank 0 merges and writes the summary
    center_rows, traces, obs_names = [], [], None
    for seed, path, selected in centers:
        label = f"seed{seed}"
        parts, moments = [], None
        for group in groups:  # chain order, whatever rank ran the group
            p = payloads[_part_name(label, group)]
            parts.append(p["sgld"])
            m = Comoments.from_state(p["moments"])
            moments = m if moments is None else moments.merge(m)
            traces.append(p["trace"])
        atomic_save_npz(ctx.dir.file(f"moments-{label}.npz"), **moments.state_dict())
        obs_names = list(moments.obs_names)
        row = _center_summary(label, seed, parts)
        row["selected_by"] = selected
        center_rows.append(row)
    atomic_save_npz(ctx.dir.file("traces.npz"), loss=_stack_ragged(traces))
    llcs = np.array([r["llc_mean"] for r in center_rows])
    ses = np.array([r["llc_se"] for r in center_rows])
    warnings = [f"{r['label']}: {w}" for r in center_rows for w in r["warnings"]]
    return {"kind": "sample", "nbeta": nbeta_of(step), "centers": center_rows,
            "llc_mean": float(llcs.mean()),
            "llc_se": float(np.sqrt((ses ** 2).sum()) / len(ses)) if len(ses) > 1 else float(ses[0]),
            "observables": obs_names, "warnings": warnings,
            "moments": [f"moments-{r['label']}.npz" for r in center_rows]}


def _stack_ragged(traces: list[np.ndarray]) -> np.ndarray:
    """Stack [chains, draws] arrays of possibly different draw counts (diverged chains stop early)."""
    rows = [r for t in traces for r in np.atleast_2d(t)]
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out

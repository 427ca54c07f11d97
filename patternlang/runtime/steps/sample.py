"""``sample``: localized SGLD at each selected checkpoint, observing at every kept draw.

For each center w* (one checkpoint, or several representative solutions) the chains run in groups;
each group is one batched sampler call whose outputs — the per-chain sampler result, the online
co-moments of observables and component losses, the thinned loss trace — are saved as a *part* with
its own done marker. An interrupted step therefore resumes at the next unfinished group, and since
every chain's random streams derive from ``(seed, chain)``, the numbers equal an uninterrupted run's.

In a distributed run (see :mod:`patternlang.runtime.distributed`) the (center, chain group) units
are split over ranks; rank 0 gathers their payloads and merges them in chain order.

Outputs: ``parts/<center>-c<first>-<last>/{sgld.json, moments.npz, trace.npz}``, ``traces.npz`` (loss per chain and draw,
all centers), ``moments-<center>.npz`` (merged per center), and the result (:class:`SampleResult`: LLC per center with
diagnostics).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from patternlang.errors import DivergenceError
from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext, runner
from patternlang.runtime.progress import NullProgress
from patternlang.runtime.results_types import CenterLLC, SampleResult
from patternlang.runtime.rundir import atomic_save_npz, read_json
from patternlang.runtime.sampling import chain_bytes, chain_groups, run_group
from patternlang.runtime.steps.common import build_components, select_checkpoints
from patternlang.runtime.steps.step_auto import resolve_auto_step


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


def _center_summary(label: str, seed: int, parts: list[dict],
                    selected: dict[str, float]) -> tuple[float, CenterLLC]:
    """A center's LLC row, and the nβ its sampler ran with (:attr:`SGLDResult.nbeta`)."""
    from patternlang.engine.sampler.result import SGLDResult

    res = SGLDResult.concat([_result_from_dict(p) for p in parts])
    d = res.to_dict()
    diag = d.get("diagnostics", {})
    return res.nbeta, CenterLLC(label=label, seed=seed, llc_mean=d["llc_mean"], llc_se=d["llc_se"],
                     llc_per_chain=d["llc_per_chain"], init_loss=d["init_loss"],
                     rhat=diag.get("rhat"), trend_ok=diag.get("trend", {}).get("equilibrated"),
                     divergent_chains=[v["chain"] for v in diag.get("divergences", [])],
                     warnings=diag.get("warnings", []), selected_by=selected, ess=diag.get("ess"),
                     publishable=diag.get("publishable"),
                     kept_chains=[c for c, a in zip(d["chain_ids"], d["alive"]) if a])


def _part_name(label: str, group: list[int]) -> str:
    """A chain group's part is named by its chains, so a resume with another grouping (another
    ``--chain-group``, GPU, or number of ranks) never mistakes one group for another."""
    return f"{label}-c{group[0]}-{group[-1]}"


def _load_part(part_dir) -> dict:
    """A finished chain group's payload: sampler result, co-moment state, loss trace."""
    return {"sgld": read_json(part_dir / "sgld.json"),
            "moments": dict(np.load(part_dir / "moments.npz")),
            "trace": np.load(part_dir / "trace.npz")["loss"]}


def _group_job(job: dict) -> None:
    """One chain group in a helper process (top-level, so it pickles); ``job["ctx"]`` is the step's
    context reduced to what sampling reads (plan, device) with a silent progress."""
    import torch

    torch.set_num_threads(1)
    step = job["step"]
    run_group(step, job["ctx"], job["center"], job["seed"], job["group"],
              build_components(step.components), job["part_dir"], None)


def sample_workers(ctx: StepContext, units: int) -> int:
    """Processes for this rank's chain groups: on a CPU outside a distributed run, one per usable core
    (``RunOptions.workers``, ``patc run --workers``, overrides), at most one per group; 1 on a GPU or
    with several ranks.
    A group's numbers depend only on its chains, so the count never changes a result."""
    from patternlang.engine.sampler.pool import cpu_workers

    if ctx.device.type != "cpu" or ctx.dist.active:
        return 1
    return cpu_workers(units, ctx.options.workers)


def _run_my_parts(step: SampleStep, ctx: StepContext, centers: list, groups: list[list[int]],
                  components: dict) -> dict[str, dict]:
    """Run (or, resuming, re-load) this rank's (center, chain group) units; payloads by part name.

    Units left to run are shared by :func:`sample_workers` processes (this one starts at once,
    helpers join when ready: :func:`~patternlang.engine.sampler.pool.map_units`); each group
    computes L(w*) itself — the same number in every group, from the same init stream."""
    from patternlang.engine.sampler.pool import map_units
    from patternlang.runtime.workers import worker_init

    units = [(ci, group) for ci in range(len(centers)) for group in groups]
    names = [(_part_name(f"seed{centers[ci][0]}", group), ci, group) for ci, group in ctx.dist.mine(units)]
    todo = [(name, ci, group) for name, ci, group in names
            if not (ctx.resume and ctx.dir.part_done(name))]
    workers = sample_workers(ctx, len(todo))
    if workers > 1:
        # what a helper's run_group reads (plan, device); no progress, run directory or callbacks
        quiet = dataclasses.replace(ctx, progress=NullProgress(), run=None, dir=None, results={}, dirs={})
        jobs = [{"ctx": quiet, "step": step, "center": centers[ci][1], "seed": centers[ci][0],
                 "group": group, "part_dir": ctx.dir.part(name)} for name, ci, group in todo]
        bar = ctx.progress.task(f"{step.id}: chain groups on {workers} processes", total=len(jobs),
                                unit="group")
        map_units(_group_job, jobs, workers,
                  on_done=lambda i, _: (ctx.dir.mark_part_done(todo[i][0]), bar.advance()),
                  initializer=worker_init, initargs=(os.getpid(),))
        bar.close()
    else:
        init_loss: dict[int, float] = {}
        for name, ci, group in todo:
            seed, path, _ = centers[ci]
            result = run_group(step, ctx, path, seed, group, components, ctx.dir.part(name),
                               init_loss.get(ci))
            init_loss[ci] = result.init_loss
            ctx.dir.mark_part_done(name)
    return {name: _load_part(ctx.dir.part(name)) for name, _, _ in names}


@runner("sample", sharded=True)
def run_sample(step: SampleStep, ctx: StepContext) -> SampleResult | None:
    from patternlang.engine.moments import Comoments

    components = build_components(step.components)
    centers = select_checkpoints(step.at, ctx, components, dict(step.mixture.weights), step.model)
    groups = ctx.dist.broadcast(chain_groups(  # rank 0's grouping (GPUs may differ in free memory)
        step.sampler.chains, ctx.device, world=ctx.dist.world, fixed=ctx.options.chain_group,
        per_chain_bytes=chain_bytes(step, ctx, centers[0][1], components)))
    step, scan = resolve_auto_step(step, ctx, centers[0][1], components)
    payloads = ctx.dist.gather_dict(_run_my_parts(step, ctx, centers, groups, components))
    if payloads is None:
        return None  # not rank 0: rank 0 merges and writes the result
    center_rows, traces, obs_names, nbetas = [], [], None, set()
    for seed, path, selected in centers:
        label = f"seed{seed}"
        parts, moments = [], None
        for group in groups:  # chain order, whatever rank ran the group
            p = payloads[_part_name(label, group)]
            parts.append(p["sgld"])
            m = Comoments.from_state(p["moments"])
            moments = m if moments is None else moments.merge(m)
            traces.append(p["trace"])
        moments, parts = keep_chains(step.id, label, moments, parts)
        atomic_save_npz(ctx.dir.file(f"moments-{label}.npz"), **moments.state_dict())
        obs_names = list(moments.obs_names)
        nbeta, row = _center_summary(label, seed, parts, selected)
        nbetas.add(nbeta)
        center_rows.append(row)
    atomic_save_npz(ctx.dir.file("traces.npz"), loss=_stack_ragged(traces))
    llcs = np.array([r.llc_mean for r in center_rows], float)
    ses = np.array([r.llc_se for r in center_rows], float)
    warnings = [f"{r.label}: {w}" for r in center_rows for w in r.warnings]
    warnings += scan["warnings"] if scan else []
    (nbeta,) = nbetas  # every center ran with the plan's nβ
    return SampleResult(nbeta=nbeta, centers=center_rows, llc_mean=float(llcs.mean()),
                        llc_se=float(np.sqrt((ses ** 2).sum()) / len(ses)) if len(ses) > 1
                        else float(ses[0]),
                        observables=obs_names, warnings=warnings,
                        moments=[f"moments-{r.label}.npz" for r in center_rows],
                        step_size=float(step.sampler.step), step_scan=scan)


def keep_chains(step_id: str, label: str, moments, parts: list[dict]) -> tuple[Any, list[dict]]:
    """One set of kept chains for every estimate at a center: chains that did not diverge and whose
    observations stayed finite. The moments (hence χ) keep only those chains, and the chain groups'
    ``alive`` flags (hence the LLC) are narrowed to the same set, so a diverged chain never enters
    one estimate and not another. Fewer than ``min(2, chains)`` kept is a :class:`DivergenceError`
    naming the chains."""
    alive = np.concatenate([np.asarray(p["alive"], bool) for p in parts])
    kept = alive & moments.finite_chains()
    ids = [c for p in parts for c in p["chain_ids"]]
    if kept.sum() < min(2, len(kept)):
        lost = [c for c, k in zip(ids, kept) if not k]
        raise DivergenceError(step_id, f"at {label}, chains {lost} diverged or produced non-finite "
                              f"values; {int(kept.sum())} of {len(kept)} kept, too few for chi and "
                              "the LLC", "lower the sampler step or raise gamma (stronger "
                              "localization), or run more chains")
    out, at = [], 0
    for p in parts:
        n = len(p["alive"])
        out.append({**p, "alive": kept[at:at + n].tolist()})
        at += n
    return (moments if kept.all() else moments.select(kept)), out


def _stack_ragged(traces: list[np.ndarray]) -> np.ndarray:
    """Stack [chains, draws] arrays of possibly different draw counts (diverged chains stop early)."""
    rows = [r for t in traces for r in np.atleast_2d(t)]
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out

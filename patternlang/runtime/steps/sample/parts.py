"""The units of a sample step — one chain group at one center — run, or re-loaded when sealed.

Each unit is one batched sampler call (:func:`~patternlang.runtime.services.sampling.run_group`) whose
outputs are saved as a *part* with its own done marker: ``sgld.json`` (the sampler result),
``moments.npz`` (the observer's co-moments), ``trace.npz`` (the loss trace) and, when the unit is a
chunk of ``draws = auto(...)``, ``state.npz`` (where its chains stopped, to continue from). A part
is named by its chains (and its draws), so a resume with another grouping never mistakes one group
for another. Units left to run are shared by :func:`sample_workers` processes; in a distributed
run each rank runs its share and rank 0 gathers the payloads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from patternlang.errors import DivergenceError
from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.progress import NullProgress
from patternlang.runtime.rundir import StepDir, read_json
from patternlang.runtime.services.build import build_components
from patternlang.runtime.services.sampling import run_group, sample_workers
from patternlang.runtime.workers import worker_init

Unit = tuple[int, list[int]]  # (center index, chain group)


def part_name(label: str, group: list[int], draws: int | None = None) -> str:
    """A chain group's part, named by its chains (and, for a chunk, the draws it reaches)."""
    return f"{label}-c{group[0]}-{group[-1]}" + ("" if draws is None else f"-d{draws}")


def load_part(part_dir: Path) -> dict:
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
              build_components(step.components), job["part_dir"], None, start=job["start"],
              keep_state=job["keep_state"])


def run_parts(step: SampleStep, ctx: StepContext, centers: list, groups: list[list[int]],
              components: dict, *, where: StepDir | None = None, draws: int | None = None,
              start: Callable[[int, list[int]], Path | None] | None = None) -> dict[str, dict]:
    """Run (or re-load, when sealed) this rank's (center, chain group) units; payloads by part name.

    ``where`` is the directory holding the parts (default the step's own); a sealed part is re-used
    on ``--resume``, and always when ``draws`` is given (a chunk of ``draws = auto``: its parts are
    named by the ``draws`` they reach, continue from the part ``start(center, group)`` names, and
    keep their chains' state). Each group computes L(w*) itself — the same number in every group."""
    from patternlang.engine.sampler.pool import map_units

    where = where or ctx.dir
    units = [(ci, group) for ci in range(len(centers)) for group in groups]
    names = [(part_name(f"seed{centers[ci][0]}", group, draws), ci, group)
             for ci, group in ctx.dist.mine(units)]
    reuse = ctx.resume or draws is not None
    todo = [(name, ci, group) for name, ci, group in names if not (reuse and where.part_done(name))]
    from_ = {name: start(ci, group) if start else None for name, ci, group in todo}
    keep = draws is not None
    workers = sample_workers(ctx, len(todo))
    if workers > 1:
        # what a helper's run_group reads (plan, device); no progress, run directory or callbacks
        quiet = dataclasses.replace(ctx, progress=NullProgress(), run=None, dir=None, results={}, dirs={})
        jobs = [{"ctx": quiet, "step": step, "center": centers[ci][1], "seed": centers[ci][0],
                 "group": group, "part_dir": where.part(name), "start": from_[name], "keep_state": keep}
                for name, ci, group in todo]
        bar = ctx.progress.task(f"{step.id}: chain groups on {workers} processes", total=len(jobs),
                                unit="group")

        def on_done(i: int, _: object) -> None:
            where.mark_part_done(todo[i][0])
            bar.advance()

        map_units(_group_job, jobs, workers, on_done=on_done, initializer=worker_init, initargs=(os.getpid(),))
        bar.close()
    else:
        init_loss: dict[int, float] = {}
        for name, ci, group in todo:
            seed, path, _ = centers[ci]
            result = run_group(step, ctx, path, seed, group, components, where.part(name),
                               init_loss.get(ci), start=from_[name], keep_state=keep)
            init_loss[ci] = result.init_loss
            where.mark_part_done(name)
    return {name: load_part(where.part(name)) for name, _, _ in names}


def result_of(parts: list[dict]):
    """The :class:`SGLDResult` of a center's saved chain groups, joined in chain order (estimates
    and diagnostics recomputed from the per-chain arrays)."""
    from patternlang.engine.sampler.diagnostics import Divergence
    from patternlang.engine.sampler.result import SGLDResult

    def one(d: dict) -> SGLDResult:
        arr = lambda k: np.asarray(d[k], dtype=float)  # noqa: E731
        trace = np.array([[np.nan if x is None else x for x in row] for row in d["loss_trace"]], float)
        return SGLDResult.build(
            chain_ids=list(d["chain_ids"]), init_loss=d["init_loss"], nbeta=d["nbeta"],
            batch_size=d["batch_size"], draw_sum=arr("draw_sum"), draw_sumsq=arr("draw_sumsq"),
            draw_count=arr("draw_count"), loss_trace=trace, alive=np.asarray(d["alive"], bool),
            divergences=[Divergence(**v) for v in d["diagnostics"]["divergences"]],
            config=d["config"], seconds=d.get("seconds", 0.0))

    return SGLDResult.concat([one(p) for p in parts])


def merge_center(step_id: str, label: str, groups: list[list[int]], payloads: dict[str, dict],
                 draws: int | None = None) -> tuple[Any, list[dict], list[np.ndarray]]:
    """A center's co-moments and sampler parts over its chain groups (in chain order, whatever rank
    ran each group), narrowed to the kept chains (:func:`keep_chains`), and the groups' traces.
    ``draws``: the chunk the parts reach (``draws = auto``), None for a fixed-draws step."""
    from patternlang.engine.moments import Comoments

    parts, moments, traces = [], None, []
    for group in groups:
        p = payloads[part_name(label, group, draws)]
        parts.append(p["sgld"])
        m = Comoments.from_state(p["moments"])
        moments = m if moments is None else moments.merge(m)
        traces.append(p["trace"])
    moments, parts = keep_chains(step_id, label, moments, parts)
    return moments, parts, traces


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

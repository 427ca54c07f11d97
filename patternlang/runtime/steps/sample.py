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

import numpy as np

from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext, runner
from patternlang.runtime.results_types import CenterLLC, SampleResult
from patternlang.runtime.rundir import atomic_save_npz, read_json
from patternlang.runtime.sampling import chain_bytes, chain_groups, run_group
from patternlang.runtime.steps.common import build_components, select_checkpoints


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
                     warnings=diag.get("warnings", []), selected_by=selected)


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
            run_group(step, ctx, path, seed, group, components, part_dir, init_loss.get(ci))
            ctx.dir.mark_part_done(name)
        out[name] = _load_part(part_dir)
        init_loss[ci] = out[name]["sgld"]["init_loss"]
    return out


@runner("sample", sharded=True)
def run_sample(step: SampleStep, ctx: StepContext) -> SampleResult | None:
    from patternlang.engine.moments import Comoments

    components = build_components(step.components, ctx)
    centers = select_checkpoints(step.at, ctx, components, dict(step.mixture.weights), step.model)
    groups = ctx.dist.broadcast(chain_groups(  # rank 0's grouping (GPUs may differ in free memory)
        step.sampler.chains, ctx.device, world=ctx.dist.world,
        per_chain_bytes=chain_bytes(step, ctx, centers[0][1], components)))
    payloads = ctx.dist.gather_dict(_run_my_parts(step, ctx, centers, groups, components))
    if payloads is None:
        return None  # not rank 0: rank 0 merges and writes the summary
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
        atomic_save_npz(ctx.dir.file(f"moments-{label}.npz"), **moments.state_dict())
        obs_names = list(moments.obs_names)
        nbeta, row = _center_summary(label, seed, parts, selected)
        nbetas.add(nbeta)
        center_rows.append(row)
    atomic_save_npz(ctx.dir.file("traces.npz"), loss=_stack_ragged(traces))
    llcs = np.array([r.llc_mean for r in center_rows], float)
    ses = np.array([r.llc_se for r in center_rows], float)
    warnings = [f"{r.label}: {w}" for r in center_rows for w in r.warnings]
    (nbeta,) = nbetas  # every center ran with the plan's nβ
    return SampleResult(nbeta=nbeta, centers=center_rows, llc_mean=float(llcs.mean()),
                        llc_se=float(np.sqrt((ses ** 2).sum()) / len(ses)) if len(ses) > 1
                        else float(ses[0]),
                        observables=obs_names, warnings=warnings,
                        moments=[f"moments-{r.label}.npz" for r in center_rows])


def _stack_ragged(traces: list[np.ndarray]) -> np.ndarray:
    """Stack [chains, draws] arrays of possibly different draw counts (diverged chains stop early)."""
    rows = [r for t in traces for r in np.atleast_2d(t)]
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out

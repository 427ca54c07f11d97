"""``sample``: localized SGLD at each selected checkpoint, observing at every kept draw.

For each center w* (one checkpoint, or several representative solutions) the chains run in groups;
each group is one batched sampler call whose outputs — the per-chain sampler result, the online
co-moments of observables and component losses, the thinned loss trace — are saved as a *part* with
its own done marker. An interrupted step therefore resumes at the next unfinished group, and since
every chain's random streams derive from ``(seed, chain)``, the numbers equal an uninterrupted run's.

In a distributed run (see :mod:`patternlang.runtime.distributed`) the (center, chain group) units
are split over ranks; rank 0 gathers their payloads and merges them in chain order.

Under ``draws = auto(...)`` the units run in chunks until the targeted χ rows are resolved
(:mod:`patternlang.runtime.steps.sample.draws_auto`); their parts live in the chunk store.

Outputs: ``parts/<center>-c<first>-<last>/{sgld.json, moments.npz, trace.npz}``, ``traces.npz`` (loss per chain and draw,
all centers), ``moments-<center>.npz`` (merged per center), and the result (:class:`SampleResult`: LLC per center with
diagnostics).
"""

from __future__ import annotations

import numpy as np

from patternlang.engine.sampler.result import finite_or_none

from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import CenterLLC, SampleResult
from patternlang.runtime.rundir import atomic_save_npz
from patternlang.runtime.services.build import build_components, select_checkpoints
from patternlang.runtime.services.sampling import chain_bytes, chain_groups
from patternlang.runtime.steps.sample.draws_auto import chunk_store, run_chunks
from patternlang.runtime.steps.sample.parts import keep_chains, merge_center, result_of, run_parts
from patternlang.runtime.steps.sample.step_auto import resolve_auto_step

__all__ = ["run_sample", "keep_chains"]


def _center_summary(label: str, seed: int, parts: list[dict],
                    selected: dict[str, float]) -> CenterLLC:
    """A center's LLC row, from the merged :class:`SGLDResult` of its chain groups."""
    res = result_of(parts)
    diag = res.diagnostics
    return CenterLLC(label=label, seed=seed, llc_mean=finite_or_none(res.llc_mean), llc_se=finite_or_none(res.llc_se),
                     llc_per_chain=[finite_or_none(x) for x in res.llc_per_chain], init_loss=res.init_loss,
                     rhat=finite_or_none(diag.rhat), trend_ok=diag.trend.equilibrated,
                     divergent_chains=[v.chain for v in diag.divergences], warnings=diag.warnings,
                     selected_by=selected, ess=finite_or_none(diag.ess), publishable=diag.publishable,
                     kept_chains=[c for c, a in zip(res.chain_ids, res.alive.tolist()) if a])


def run_sample(step: SampleStep, ctx: StepContext) -> SampleResult | None:
    components = build_components(step.components)
    centers = select_checkpoints(step.at, ctx, components, dict(step.mixture.weights), step.model)
    groups = ctx.dist.broadcast(chain_groups(  # rank 0's grouping (GPUs may differ in free memory)
        step.sampler.chains, ctx.device, world=ctx.dist.world, fixed=ctx.options.chain_group,
        per_chain_bytes=chain_bytes(step, ctx, centers[0][1], components)))
    store = chunk_store(step, ctx) if step.sampler.draws_auto is not None else None
    step, scan = resolve_auto_step(step, ctx, centers[0][1], components, store)
    if store is None:
        draws, auto = None, None
        payloads = ctx.dist.gather_dict(run_parts(step, ctx, centers, groups, components))
    else:
        payloads, auto = run_chunks(step, ctx, centers, groups, components, store)
        draws = auto.draws if auto is not None else None
    if payloads is None:
        return None  # not rank 0: rank 0 merges and writes the result
    center_rows, traces, obs_names = [], [], None
    for seed, path, selected in centers:
        label = f"seed{seed}"
        moments, parts, trace = merge_center(step.id, label, groups, payloads, draws)
        traces += trace
        atomic_save_npz(ctx.dir.file(f"moments-{label}.npz"), **moments.state_dict())
        obs_names = list(moments.obs_names)
        center_rows.append(_center_summary(label, seed, parts, selected))
    atomic_save_npz(ctx.dir.file("traces.npz"), loss=_stack_ragged(traces))
    llcs = np.array([r.llc_mean for r in center_rows], float)
    ses = np.array([r.llc_se for r in center_rows], float)
    warnings = [f"{r.label}: {w}" for r in center_rows for w in r.warnings]
    warnings += (scan.warnings if scan is not None else []) + (auto.warnings if auto is not None else [])
    return SampleResult(nbeta=ctx.nbeta(step.id), centers=center_rows, llc_mean=float(llcs.mean()),
                        llc_se=float(np.sqrt((ses ** 2).sum()) / len(ses)) if len(ses) > 1
                        else float(ses[0]),
                        observables=obs_names, warnings=warnings,
                        moments=[f"moments-{r.label}.npz" for r in center_rows],
                        step_size=float(step.sampler.step), step_scan=scan,
                        draws=draws or step.sampler.draws, draws_auto=auto)


def _stack_ragged(traces: list[np.ndarray]) -> np.ndarray:
    """Stack [chains, draws] arrays of possibly different draw counts (diverged chains stop early)."""
    rows = [r for t in traces for r in np.atleast_2d(t)]
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out

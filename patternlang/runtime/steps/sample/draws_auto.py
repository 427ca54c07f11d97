"""``draws = auto(z=3, max=N, chunk=C)`` in a sample step: sample in chunks until the
targeted χ rows are resolved.

Every (center, chain group) unit samples ``C`` draws, saves its part — co-moments, sampler result,
trace, and the chains' state (:class:`~patternlang.engine.sampler.chain_state.ChainState`) — and
the next chunk continues each unit from there, so k chunks give bit for bit the numbers of one run
of k·C draws. After each chunk the rows the patternings downstream target
(:mod:`patternlang.runtime.services.target_rows`; ``hold`` rows are not required) are measured, and
sampling stops when each row's movable-step |z| >= z — the row projected on the steps its solve can
take, the rule ``require resolved`` applies (:mod:`patternlang.engine.solve.resolved`,
:mod:`patternlang.engine.sampler.draws_rule`) —
or when N draws are spent; then each unresolved row is a warning with its best |z| and about
N·(z/|z_best|)² draws that would resolve it. With no targeted row downstream (no patterning, or
only ``hold`` / ``move`` targets) the rule is the LLC's: stop when λ̂/SE >= z at every center
(z = 10 asks for an LLC known to 10 %). Rows that a coupled susceptibility estimates are not this
step's to resolve: the coupled estimator grows by chains under the same ``draws = auto``
(:func:`~patternlang.runtime.steps.susceptibility.coupled_chi.apply_coupled`).

The parts live in a *chunk store*, ``steps/chunks-<sample>-<key>/``, keyed by the step's hash with
the budget, z and the targets left out (they decide when to stop, not what a chunk holds; under
``step = auto`` the targeted rows stay in, since they shape the scan, but not their amounts). A chunk is a deterministic
function of that key and the draws it reaches (parts are named ``...-d<draws>``), so a sealed part
is always re-used: an interrupted run continues at its next chunk (``--resume`` or not), and a
re-run with a larger ``max`` (or another z or target) continues where the last one stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patternlang.engine.sampler.draws_rule import ChunkCheck, budget_warnings, equilibration_draws
from patternlang.engine.sampler.result import finite_or_none
from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.rundir import StepDir
from patternlang.runtime.sample_types import (ChunkRecord, DrawsAutoRecord, DrawsRule, LLCRow,
                                              TargetRowRecord)
from patternlang.runtime.services.target_rows import TargetRow, chi_of, target_rows
from patternlang.runtime.steps.sample.parts import merge_center, part_name, result_of, run_parts


def chunk_store(step: SampleStep, ctx: StepContext) -> StepDir:
    """The directory of ``step``'s chunks, keyed by what decides a chunk's numbers."""
    sampler = step.sampler.model_copy(update={"draws": step.sampler.draws_auto.chunk, "draws_auto": None})
    rows_only = {"amount": None, "value": None, "weight": 1.0}  # the scan reads the rows, not the goal
    targets = [t.model_copy(update={"target": t.target.model_copy(update=rows_only)})
               for t in step.targets] if step.sampler.step == "auto" else []
    keyed = step.model_copy(update={"sampler": sampler, "targets": targets})
    plan = ctx.as_compiled.model_copy(update={"steps": [keyed if s.id == step.id else s for s in ctx.as_compiled.steps]})
    return ctx.run.step("sample", f"chunks.{step.id}", plan.hashes()[step.id])


def _with_draws(step: SampleStep, draws: int) -> SampleStep:
    return step.model_copy(update={"sampler": step.sampler.model_copy(update={"draws": draws})})


def run_chunks(step: SampleStep, ctx: StepContext, centers: list, groups: list[list[int]],
               components: dict, store: StepDir) -> tuple[dict[str, dict] | None, DrawsAutoRecord | None]:
    """Sample chunk after chunk until the rule says stop; on rank 0 the last chunk's payloads (named
    as :func:`merge_center` expects with ``draws``) and the record for :class:`SampleResult`
    (``draws``, ``chunks``, ``resolved``, ``rows``, ``warnings``); ``(None, None)`` elsewhere."""
    auto, budget = step.sampler.draws_auto, step.sampler.draws
    checks: list[ChunkCheck] = []
    least = equilibration_draws(float(step.sampler.step), step.sampler.gamma, step.sampler.thin)
    done, payloads = 0, None
    rule: DrawsRule = "llc"
    rows: list[Any] = []  # TargetRow under the rule "targets", the LLC rows' dicts under "llc"
    while done < budget:
        end = min(done + auto.chunk, budget)
        payloads = ctx.dist.gather_dict(run_parts(
            _with_draws(step, end - done), ctx, centers, groups, components, where=store, draws=end,
            start=_previous(store, centers, done)))
        stop = None
        if payloads is not None:
            rows, rule = _measure(step, centers, groups, payloads, end, ctx.plan)
            checks.append(ChunkCheck(end, _best(rows), auto.z, least))
            stop = checks[-1].resolved
            ctx.progress.info(f"{step.id}: draws = auto: {end} draws, best |z| "
                              + ", ".join(f"{k} {_show(v)}" for k, v in checks[-1].best.items()))
        done = end
        if ctx.dist.broadcast(stop):
            break
    if payloads is None:
        return None, None
    last = checks[-1]
    what = "targeted row" if rule == "targets" else "estimate"
    return payloads, DrawsAutoRecord(
        z=auto.z, max=budget, chunk=auto.chunk, rule=rule, draws=last.draws, resolved=last.resolved,
        chunks=[ChunkRecord.model_validate(c.to_dict()) for c in checks],
        rows=[TargetRowRecord.model_validate(r.to_dict()) for r in rows] if rule == "targets"
        else [LLCRow.model_validate(r) for r in rows],
        warnings=[] if last.resolved else budget_warnings(last, what, checks))


def _previous(store: StepDir, centers: list, done: int):
    """``start(center, group)``: the part the next chunk continues from (None for the first)."""
    if done == 0:
        return None

    def start(ci: int, group: list[int]) -> Path:
        return store.part(part_name(f"seed{centers[ci][0]}", group, done))

    return start


def _measure(step: SampleStep, centers: list, groups: list[list[int]], payloads: dict,
             draws: int, plan) -> tuple[list, DrawsRule]:
    """The rows the rule reads after a chunk: the targeted χ rows (rule ``"targets"``), or, with
    none, each center's LLC with its SE (rule ``"llc"``)."""
    merged = [merge_center(step.id, f"seed{seed}", groups, payloads, draws) for seed, _, _ in centers]
    # rows a coupled susceptibility estimates are its own to resolve (by chains, runtime/services/coupled.py)
    step = step.model_copy(update={"targets": [t for t in step.targets
                                               if plan.step(t.susceptibility).estimator is None]})
    if step.targets:
        rows = target_rows(step, chi_of(step, [m for m, _, _ in merged], float(step.sampler.nbeta)), plan)
        if rows:
            return rows, "targets"
    out = []
    for (seed, _, _), (_, parts, _) in zip(centers, merged):
        res = result_of(parts)
        out.append({"label": f"LLC at seed{seed}", "llc": finite_or_none(res.llc_mean),
                    "llc_se": finite_or_none(res.llc_se)})
    return out, "llc"


def _best(rows: list) -> dict[str, float | None]:
    """Each row's best |z| (a χ row: over its components; an LLC: λ̂/SE)."""
    out: dict[str, float | None] = {}
    for r in rows:
        if isinstance(r, TargetRow):
            out[r.label] = r.best_abs_z
        else:
            ok = r["llc"] is not None and r["llc_se"] is not None and r["llc_se"] > 0
            out[r["label"]] = abs(r["llc"]) / r["llc_se"] if ok else None
    return out


def _show(v: float | None) -> str:
    return "none" if v is None else f"{v:.2f}"

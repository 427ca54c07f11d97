"""The ``solve`` step: one inverse solve, or iterative patterning with ``rounds = R``.

Linear response is first order, so a target that needs more than a small step is approached in
rounds. Round 1 is the ordinary solve. Each further round r:

1. trains ``round_steps`` more steps from the previous round's checkpoint (round 2: the
   susceptibility's checkpoint) under the previous round's weights;
2. samples there with the same sampler and observables, the mixture being the current weights;
3. re-estimates χ and re-solves around the current weights, with the same targets and constraints
   (so a trust region bounds each round's step).

The final weights are the last round's, and the prediction that goes with them is the sum of every
round's predicted change (:func:`total_prediction`). Every round is a resumable part of the solve step.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import ValidationError

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import MixtureSpec, SampleStep, SolveStep, SusceptibilityStep, TrainStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import (Prediction, SampleResult, SolveResult, SolveRound,
                                               result_json)
from patternlang.runtime.rundir import atomic_write_json, read_json
from patternlang.runtime.services.build import build_components, checkpoint_paths
from patternlang.runtime.services.chi import combine
from patternlang.runtime.services.rows import Rows, Solved, solve_once
from patternlang.runtime.services.sampling import chain_groups, run_group
from patternlang.runtime.services.solved_rows import write_rows
from patternlang.runtime.services.training import train_one
from patternlang.runtime.steps.solve.per_sample import SAMPLE_WEIGHTS, solve_samples
from patternlang.runtime.steps.solve.trust import (check_warnings, drift_warnings, posterior_check,
                                                   split_half)


def _round(step: SolveStep, ctx: StepContext, r: int, weights: dict, ckpt, seed: int) -> SolveRound:
    from patternlang.engine.chi import estimate_chi
    from patternlang.engine.moments import Comoments

    sus = ctx.plan.step_as(step.susceptibilities[0], SusceptibilityStep)
    sample = ctx.plan.step_as(sus.sample, SampleStep)  # as it ran: its ε and draws
    train = ctx.plan.step_as(sample.at.train, TrainStep)
    pdir = ctx.dir.part(f"round{r}")
    components = build_components(sample.components)  # the mixture's and the probes
    trained = train_one(train, seed, weights, components, pdir, device=str(ctx.device),
                        plan_seed=ctx.plan.seed, steps=step.round_steps, init_path=ckpt, track=[],
                        every=0, checkpoints=[])
    ckpt = pdir / trained.checkpoint(step.round_steps)
    moved = sample.model_copy(update={"mixture": MixtureSpec(name=f"round{r}", weights=weights)})
    moments, init_loss = None, None
    groups = chain_groups(sample.sampler.chains, ctx.device, fixed=ctx.options.chain_group)
    for gi, group in enumerate(groups):
        gdir = ctx.dir.part(f"round{r}/g{gi}")
        sampled = run_group(moved, ctx, ckpt, seed, group, components, gdir, init_loss)
        init_loss = sampled.init_loss
        m = Comoments.from_state(dict(np.load(gdir / "moments.npz")))
        moments = m if moments is None else moments.merge(m)
    chi, _, _ = combine([estimate_chi(moments)], moved, ctx.nbeta(sus.id), sus.standardize)
    record = solve_once(step, Rows(step.id, [(sus.id, chi)]), weights, pdir / "solution.json").record
    return SolveRound(round=r, weights=record.weights, solve=record,
                      checkpoint=str(ckpt.relative_to(ctx.dir.path)), chi=chi.chi, chi_se=chi.chi_se)


def _saved_round(ctx: StepContext, name: str) -> SolveRound | None:
    """A finished round of an interrupted run (``None``: not finished, or an older format)."""
    if not (ctx.resume and ctx.dir.part_done(name)):
        return None
    try:
        return SolveRound.model_validate(read_json(ctx.dir.part(name) / "round.json"))
    except (ValidationError, FileNotFoundError):
        return None


def iterate(step: SolveStep, ctx: StepContext, first: SolveRound) -> list[SolveRound]:
    """Rounds 2..R after the first solve ``first`` (each a resumable part); all rounds, in order."""
    if len(step.susceptibilities) != 1:
        raise PatRuntimeError(step.id, "iterative patterning (rounds > 1) re-estimates one "
                              f"susceptibility, but this step has {len(step.susceptibilities)}",
                              "use rounds = 1 with several susceptibilities")
    if step.round_steps < 1:
        raise PatRuntimeError(step.id, "rounds > 1 needs round_steps >= 1",
                              "set round_steps: training steps between rounds")
    sus = ctx.plan.step_as(step.susceptibilities[0], SusceptibilityStep)
    center = ctx.result(sus.sample, SampleResult).centers[0]
    ckpt = dict(checkpoint_paths(ctx.plan.step_as(sus.sample, SampleStep).at, ctx))[center.seed]
    rounds = [first]
    for r in range(2, step.rounds + 1):
        name = f"round{r}"
        rec = _saved_round(ctx, name)
        if rec is None:
            rec = _round(step, ctx, r, rounds[-1].weights, ckpt, center.seed)
            atomic_write_json(ctx.dir.part(name) / "round.json", result_json(rec))
            ctx.dir.mark_part_done(name)
        ckpt = ctx.dir.path / rec.checkpoint
        rounds.append(rec)
    return rounds


def total_prediction(rounds: list[SolveRound]) -> dict[str, Prediction]:
    """The predicted change of every coordinate from the baseline to the last round's weights: the
    sum of the rounds' first-order predictions (each at its own χ), standard errors in quadrature
    (the rounds' χ are estimated from independent samples)."""
    if len(rounds) == 1:
        return dict(rounds[0].solve.predicted or {})
    names = list(rounds[0].solve.predicted or {})
    out = {}
    for n in names:
        parts = [r.solve.predicted[n] for r in rounds]
        ses = [p.se for p in parts]
        out[n] = Prediction(change=math.fsum(p.change for p in parts),
                            se=None if None in ses else math.sqrt(math.fsum(x * x for x in ses)))
    return out


def run_solve(step: SolveStep, ctx: StepContext) -> SolveResult:
    """Solve (per sample, or in rounds), write the rows and targets verification reads
    (``rows.json``, :mod:`patternlang.runtime.services.solved_rows`) and judge the first round."""
    rows = Rows.of(step, ctx)
    baseline = dict(step.mixture.weights)
    if step.samples:  # per-sample patterning (one round; the per-example weights in a file)
        solved = solve_samples(step, ctx, rows, baseline)
        record = solved.record
        rounds = [SolveRound(round=1, weights=record.weights, solve=record)]
        return SolveResult(baseline=baseline, final_weights=record.weights,
                           predicted=total_prediction(rounds), observables=rows.names,
                           rounds=rounds, sample_weights=SAMPLE_WEIGHTS,
                           rows=write_rows(ctx, rows, solved.targets, step.id))
    solved = solve_once(step, rows, baseline, ctx.dir.file("solution.json"))
    rounds = [SolveRound(round=1, weights=solved.record.weights, solve=solved.record)]
    if step.rounds > 1:
        rounds = iterate(step, ctx, rounds[0])
    result = SolveResult(baseline=baseline, final_weights=rounds[-1].weights,
                         predicted=total_prediction(rounds), observables=rows.names, rounds=rounds,
                         rows=write_rows(ctx, rows, solved.targets, step.id))
    _judge(step, ctx, rows, solved, baseline, result)
    return result


def _judge(step: SolveStep, ctx: StepContext, rows: Rows, solved: Solved,
           baseline: dict[str, float], result: SolveResult) -> None:
    """The first round's trust checks (:mod:`patternlang.runtime.steps.solve.trust`): split halves,
    drift and, for the coupled estimator, the posterior check of the solved step; on the targets
    the first round solved for (``solved.targets``, around the normalized baseline)."""
    record, targets = solved.record, solved.targets
    delta = np.array([record.delta_h[c] for c in rows.components], float) if record.delta_h else None
    result.reproducibility = split_half(step, ctx, rows, baseline, delta)
    result.warnings = drift_warnings(step, ctx, rows, targets)
    if record.weights:
        result.posterior_check = posterior_check(step, ctx, rows, targets, record.weights,
                                                 baseline) or None
        result.warnings += check_warnings(result.posterior_check or [])
    if result.reproducibility is not None and result.reproducibility.warning:
        result.warnings.insert(0, result.reproducibility.warning)

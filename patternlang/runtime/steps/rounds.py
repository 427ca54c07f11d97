"""The ``solve`` step: one inverse solve, or iterative patterning with ``rounds = R``.

Linear response is first order, so a target that needs more than a small step is approached in
rounds. Round 1 is the ordinary solve. Each further round r:

1. trains ``round_steps`` more steps from the previous round's checkpoint (round 2: the
   susceptibility's checkpoint) under the previous round's weights;
2. samples there with the same sampler and observables, the mixture being the current weights;
3. re-estimates χ and re-solves around the current weights, with the same targets and constraints
   (so a trust region bounds each round's step).

The final weights are the last round's. Every round is a resumable part of the solve step.
"""

from __future__ import annotations

import numpy as np

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import MixtureSpec, SolveStep
from patternlang.runtime.context import StepContext, runner
from patternlang.runtime.rundir import atomic_write_json, read_json
from patternlang.runtime.steps.common import build_components, checkpoint_paths
from patternlang.runtime.steps.solve import Rows, solve_once
from patternlang.runtime.steps.solve_samples import SAMPLE_WEIGHTS, solve_samples


def _round(step: SolveStep, ctx: StepContext, r: int, weights: dict, ckpt, seed: int) -> dict:
    from patternlang.engine.chi import estimate_chi
    from patternlang.engine.moments import Comoments
    from patternlang.runtime.steps.sample import _run_group, chain_groups, nbeta_of
    from patternlang.runtime.steps.susceptibility import combine
    from patternlang.runtime.steps.train import train_one

    sus = ctx.plan.step(step.susceptibilities[0])
    sample = ctx.plan.step(sus.sample)
    train = ctx.plan.step(sample.at.train)
    pdir = ctx.dir.part(f"round{r}")
    components = build_components(train.components)
    info = train_one(train, seed, weights, components, pdir, device=str(ctx.device),
                     plan_seed=ctx.plan.seed, steps=step.round_steps, init_path=ckpt, track=[],
                     every=0, checkpoints=[])
    ckpt = pdir / info["checkpoints"][str(step.round_steps)]
    moved = sample.model_copy(update={"mixture": MixtureSpec(name=f"round{r}", weights=weights)})
    moments, init_loss = None, None
    for gi, group in enumerate(chain_groups(sample.sampler.chains, ctx.device)):
        gdir = ctx.dir.part(f"round{r}/g{gi}")
        init_loss = _run_group(moved, ctx, ckpt, seed, group, components, gdir, init_loss)
        m = Comoments.from_state(dict(np.load(gdir / "moments.npz")))
        moments = m if moments is None else moments.merge(m)
    chi_summary, _, _ = combine([estimate_chi(moments)], moved, nbeta_of(sample), sus.standardize)
    rows = Rows(step.id, [(sus.id, chi_summary)])
    record = solve_once(step, rows, weights, pdir / "solution.json")
    return {"round": r, "checkpoint": str(ckpt.relative_to(ctx.dir.path)),
            "chi": chi_summary["chi"], "chi_se": chi_summary["chi_se"],
            "observables": chi_summary["observables"], "solution": record,
            "weights": dict(record["weights"])}


def iterate(step: SolveStep, ctx: StepContext, first: dict) -> dict:
    """Run rounds 2..R after the first solve ``first``; return the solve summary with the final
    weights and a ``rounds`` record."""
    if len(step.susceptibilities) != 1:
        raise PatRuntimeError(step.id, "iterative patterning (rounds > 1) re-estimates one "
                              f"susceptibility, but this step has {len(step.susceptibilities)}",
                              "use rounds = 1 with several susceptibilities")
    if step.round_steps < 1:
        raise PatRuntimeError(step.id, "rounds > 1 needs round_steps >= 1",
                              "set round_steps: training steps between rounds")
    sus = ctx.plan.step(step.susceptibilities[0])
    sample = ctx.plan.step(sus.sample)
    center = ctx.summaries[sample.id]["centers"][0]
    ckpt = dict(checkpoint_paths(sample.at, ctx))[center["seed"]]
    weights = dict(first["weights"])
    rounds = [{"round": 1, "weights": weights, "solution": first["solution"]}]
    for r in range(2, step.rounds + 1):
        name = f"round{r}"
        if ctx.resume and ctx.dir.part_done(name):
            rec = read_json(ctx.dir.part(name) / "round.json")
        else:
            rec = _round(step, ctx, r, weights, ckpt, center["seed"])
            atomic_write_json(ctx.dir.part(name) / "round.json", rec)
            ctx.dir.mark_part_done(name)
        ckpt = ctx.dir.path / rec["checkpoint"]
        weights = rec["weights"]
        rounds.append(rec)
    return {**first, "weights": weights, "rounds": [
        {"round": x["round"], "weights": x["weights"],
         "targets": x["solution"]["targets"]} for x in rounds]}


@runner("solve")
def run_solve(step: SolveStep, ctx: StepContext) -> dict:
    rows = Rows.of(step, ctx)
    if step.samples:
        record = solve_samples(step, ctx, rows, dict(step.mixture.weights))
        return {"kind": "solve", "weights": dict(record["weights"]),
                "baseline": dict(step.mixture.weights), "solution": record,
                "observables": rows.names, "sample_weights": SAMPLE_WEIGHTS}
    record = solve_once(step, rows, dict(step.mixture.weights), ctx.dir.file("solution.json"))
    summary = {"kind": "solve", "weights": dict(record["weights"]),
               "baseline": dict(step.mixture.weights), "solution": record, "observables": rows.names}
    if step.rounds > 1:
        summary = iterate(step, ctx, summary)
    return summary

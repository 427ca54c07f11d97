"""``train``: train the model on a weighted mixture for each seed; save checkpoints and curves.

Outputs (``steps/train-*/``): ``seed<s>/step<n>.safetensors`` at each declared checkpoint (and the
final step), ``seed<s>/curve.json`` (loss, tracked observables), one ``parts/seed<s>`` marker per
finished seed so an interrupted pool of seeds resumes at the next seed. In a distributed run the
seeds are split over ranks and rank 0 gathers their checkpoints.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from patternlang.plan.ir import TrainStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.contract import check_model
from patternlang.runtime.results_types import TrainPoolResult, result_json
from patternlang.runtime.rundir import atomic_write_json
from patternlang.runtime.services.build import build_components, build_model, checkpoint_paths
from patternlang.runtime.services.mixtures import pool_weights, resolve_mixture, reweight_pools
from patternlang.runtime.services.training import train_one


class SeedPart(BaseModel):
    """The marker of one finished seed (``parts/seed<s>/done.json``): its checkpoints (training
    step -> path relative to the step directory) and its loss at the last step."""

    model_config = ConfigDict(extra="forbid")

    checkpoints: dict[str, str]
    final_loss: float | None


def run_train(step: TrainStep, ctx: StepContext) -> TrainPoolResult | None:
    check_model(build_model(step.model, ctx), ctx.plan, step.id)  # before any training
    components = build_components(step.components + step.probes)
    weights = resolve_mixture(step, ctx)
    if step.mixture_from:  # a per-sample solution also weights the examples of its pools
        components = reweight_pools(components, pool_weights(ctx, step.mixture_from))
    init = dict(checkpoint_paths(step.init_from, ctx)) if step.init_from else {}
    mine = ctx.dist.mine(list(step.seeds))  # a pool of seeds is split over ranks
    # counted in training steps over this rank's seeds: one seed can take minutes
    task = ctx.progress.task(f"{step.id}: {len(mine)} seed(s) x {step.steps} steps",
                             total=len(mine) * step.steps, unit="step")
    infos: dict[int, SeedPart] = {}
    for seed in mine:
        part = f"seed{seed}"
        if ctx.dir.part_done(part):
            info = SeedPart.model_validate(ctx.dir.part_summary(part))
            task.advance(step.steps)
        else:
            init_path = init.get(seed) or (next(iter(init.values())) if init else None)
            run = train_one(step, seed, weights, components, ctx.dir.path,
                            device=str(ctx.device), plan_seed=ctx.plan.seed, init_path=init_path,
                            on_step=lambda t: task.advance())
            atomic_write_json(ctx.dir.path / part / "curve.json", run.model_dump())
            ctx.dir.mark_part_done(part, result_json(SeedPart(checkpoints=run.checkpoints,
                                                              final_loss=run.loss[-1])),
                                   files=sorted((ctx.dir.path / part).glob("*")))
            info = SeedPart.model_validate(ctx.dir.part_summary(part))
        infos[seed] = info
    task.close()
    gathered = ctx.dist.gather_dict(infos)
    if gathered is None:
        return None  # not rank 0
    checkpoints = {str(s): gathered[s].checkpoints for s in step.seeds}
    final_loss = {str(s): gathered[s].final_loss for s in step.seeds}
    return TrainPoolResult(steps=step.steps, mixture=weights, checkpoints=checkpoints,
                       final_loss=final_loss)

"""``train``: train the model on a weighted mixture for each seed; save checkpoints and curves.

Outputs (``steps/train-*/``): ``seed<s>/step<n>.safetensors`` at each declared checkpoint (and the
final step), ``seed<s>/curve.json`` (loss, tracked observables), one ``parts/seed<s>`` marker per
finished seed so an interrupted pool of seeds resumes at the next seed. In a distributed run the
seeds are split over ranks and rank 0 gathers their checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from patternlang.plan.ir import TrainStep
from patternlang.runtime.context import StepContext, runner
from patternlang.runtime.rundir import atomic_write_json, read_json
from patternlang.runtime.steps.common import (build_components, build_model, checkpoint_paths,
                                              derive_seed, evaluate_point, load_weights)
from patternlang.runtime.steps.mixtures import pool_weights, resolve_mixture, reweight_pools


def train_one(step: TrainStep, seed: int, weights: dict[str, float], components: dict, out_dir,
              *, device: str = "cpu", plan_seed: int = 0, steps: int | None = None,
              init_path=None, track=None, every: int | None = None, checkpoints=None) -> dict:
    """Train one seed of ``step`` under mixture ``weights``; save checkpoints under ``out_dir``.

    Returns ``{"checkpoints": {step: relative path}, "loss": [...], "curve": {"step": [...],
    "values": [{coordinate: value}, ...]}}``. ``track`` / ``every`` default to the step's own
    tracked observables; verification passes its own.
    """
    from patternlang.data.mixture import Mixture
    from patternlang.engine.train import train
    from patternlang.models.checkpoint import save

    steps = steps or step.steps
    track = step.track if track is None else track
    every = step.track_every if every is None else every
    model = build_model(step.model, init_seed=derive_seed("init", seed), device=device)
    if init_path is not None:
        load_weights(model, init_path)
    names = [n for n in weights if n in components]
    mixture = Mixture([components[n] for n in names], [weights[n] for n in names])
    curve: dict[str, list] = {"step": [], "values": []}
    saved: dict[str, str] = {}

    def on_eval(t: int, m) -> None:
        vals = evaluate_point(m, track, components, weights, probe=64,
                              seed=derive_seed("track", plan_seed))
        curve["step"].append(t)
        curve["values"].append(vals)

    def on_checkpoint(t: int, m) -> None:
        rel = f"seed{seed}/step{t}.safetensors"
        save(m, Path(out_dir) / rel, {"step": t, "seed": seed})
        saved[str(t)] = rel

    marks = sorted(set(step.checkpoints if checkpoints is None else checkpoints) | {steps})
    result = train(model, mixture, steps=steps, batch=step.batch, optimizer=step.optimizer,
                   seed=derive_seed("train", seed), checkpoints=marks, on_checkpoint=on_checkpoint,
                   on_eval=on_eval if track and every else None, eval_every=every or 0,
                   device=device)
    return {"checkpoints": saved, "loss": [float(x) for x in result.loss], "curve": curve}


@runner("train", sharded=True)
def run_train(step: TrainStep, ctx: StepContext) -> dict | None:
    components = build_components(step.components, ctx)
    weights = resolve_mixture(step, ctx)
    if step.mixture_from:  # a per-sample solution also weights the examples of its pools
        components = reweight_pools(components, pool_weights(ctx, step.mixture_from))
    init = dict(checkpoint_paths(step.init_from, ctx)) if step.init_from else {}
    mine = ctx.dist.mine(list(step.seeds))  # a pool of seeds is split over ranks
    task = ctx.progress.task(f"{step.id}: seeds", total=len(mine), unit="seed")
    infos: dict[int, dict] = {}
    for seed in mine:
        part = f"seed{seed}"
        if ctx.dir.part_done(part):
            info = read_json(ctx.dir.part(part) / "done.json")
        else:
            init_path = init.get(seed) or (next(iter(init.values())) if init else None)
            info = train_one(step, seed, weights, components, ctx.dir.path,
                             device=str(ctx.device), plan_seed=ctx.plan.seed, init_path=init_path)
            atomic_write_json(ctx.dir.path / part / "curve.json", info)
            ctx.dir.mark_part_done(part, {"checkpoints": info["checkpoints"],
                                          "final_loss": info["loss"][-1]})
            info = read_json(ctx.dir.part(part) / "done.json")
        infos[seed] = info
        task.advance()
    task.close()
    gathered = ctx.dist.gather_dict(infos)
    if gathered is None:
        return None  # not rank 0
    checkpoints = {str(s): gathered[s]["checkpoints"] for s in step.seeds}
    final_loss = {str(s): gathered[s]["final_loss"] for s in step.seeds}
    return {"kind": "train", "steps": step.steps, "mixture": weights, "checkpoints": checkpoints,
            "final_loss": final_loss}

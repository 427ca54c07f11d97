"""The training service: one seed of a plan's :class:`TrainStep` under a mixture.

The ``train`` step (a pool of seeds), iterative patterning's rounds (more steps from the previous
round's checkpoint under the new weights) and verification (every arm x seed, possibly in worker
processes) all train through :func:`train_one`, so a model is initialised, fed and checkpointed one
way, and equal inputs give equal weights wherever they run.

What it returns is typed (:class:`~patternlang.runtime.training_types.TrainRun`, its tracked
observables a :class:`~patternlang.runtime.training_types.Curve`); the train
step writes it as ``seed<s>/curve.json`` and verification as each run's ``run.json``, in the JSON
shape those files always had, so a file written by an older patternlang reads back with
``TrainRun.model_validate(read_json(path))``.
"""

from __future__ import annotations

from pathlib import Path

from patternlang.data.build import mixture_of
from patternlang.plan.ir import TrainStep
from patternlang.runtime.services.build import (build_model, derive_seed, evaluate_point,
                                                load_weights)
from patternlang.runtime.training_types import Curve, TrainRun


def train_one(step: TrainStep, seed: int, weights: dict[str, float], components: dict, out_dir,
              *, device: str = "cpu", plan_seed: int = 0, steps: int | None = None,
              init_path=None, track=None, every: int | None = None, checkpoints=None,
              on_step=None) -> TrainRun:
    """Train one seed of ``step`` under mixture ``weights``; save checkpoints under ``out_dir``.

    Returns the :class:`TrainRun` (checkpoints, loss, curve of the tracked observables; its JSON is
    ``{"checkpoints": {step: relative path}, "loss": [...], "curve": {"step": [...],
    "values": [{coordinate: value}, ...]}}``). ``track`` / ``every`` default to the step's own
    tracked observables; verification passes its own. ``on_step(t)`` follows the updates
    (the train step's progress bar counts training steps, not seeds).
    """
    from patternlang.engine.train import train
    from patternlang.models.checkpoint import save

    steps = steps or step.steps
    track = step.track if track is None else track
    every = step.track_every if every is None else every
    model = build_model(step.model, init_seed=derive_seed("init", seed), device=device)
    if init_path is not None:
        load_weights(model, init_path)
    mixture = mixture_of(components, weights)
    curve = Curve()
    saved: dict[str, str] = {}

    def on_eval(t: int, m) -> None:
        vals = evaluate_point(m, track, components, weights, probe=64,
                              seed=derive_seed("track", plan_seed))
        curve.add(t, vals)

    def on_checkpoint(t: int, m) -> None:
        rel = f"seed{seed}/step{t}.safetensors"
        save(m, Path(out_dir) / rel, {"step": t, "seed": seed})
        saved[str(t)] = rel

    marks = sorted(set(step.checkpoints if checkpoints is None else checkpoints) | {steps})
    result = train(model, mixture, steps=steps, batch=step.batch, optimizer=step.optimizer,
                   seed=derive_seed("train", seed), checkpoints=marks, on_checkpoint=on_checkpoint,
                   on_eval=on_eval if track and every else None, eval_every=every or 0,
                   device=device, on_step=on_step)
    return TrainRun(checkpoints=saved, loss=[float(x) for x in result.loss], curve=curve)


__all__ = ["Curve", "TrainRun", "train_one"]

"""``observe``: observables at checkpoints (point values, no sampling), for every selected seed."""

from __future__ import annotations

import numpy as np

from patternlang.plan.ir import ObserveStep, TrainStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ObserveResult, SeedValues
from patternlang.runtime.services.build import (build_components, build_model, derive_seed,
                                                evaluate_point, load_weights, select_checkpoints)


def run_observe(step: ObserveStep, ctx: StepContext) -> ObserveResult:
    components = build_components(step.components)
    train = ctx.plan.step_as(step.at.train, TrainStep)
    weights = dict(train.mixture.weights)
    rows = []
    for seed, path, _ in select_checkpoints(step.at, ctx, components, weights, train.model):
        model = load_weights(build_model(train.model, ctx), path)
        rows.append(SeedValues(seed=seed, values=evaluate_point(
            model, step.observables, components, weights, probe=step.probe,
            seed=derive_seed("observe", ctx.plan.seed, step.seed))))
    names = list(rows[0].values) if rows else []
    mean = {n: float(np.mean([r.values[n] for r in rows])) for n in names}
    return ObserveResult(per_seed=rows, mean=mean)

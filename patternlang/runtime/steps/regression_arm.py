"""The ``regression(K)`` arm of ``verify``: proxy mixtures, their compute, the fit and its solve.

The proxy runs themselves are ordinary verification runs (content-addressed under ``RUN/runs/``,
run by the verify step's workers, resumable, split over ranks); this module chooses their mixtures
and horizon (:func:`proxy_design`) and turns their results into the regression arm's mixture
(:func:`regression_result`) with the engine's fit and solve (:mod:`patternlang.engine.regression`).

Compute is counted in sequences through forward+backward (training and SGLD steps) and through
forward only (observing probe sets), as ``patc explain`` does; ``equivalent`` adds forwards at a
third of a forward+backward. The patterning's compute is the training up to the checkpoint χ is
taken at, plus SGLD sampling and observation of every sample step the solve's susceptibilities
read (a finite-difference ``check`` is a diagnostic and is not counted).
"""

from __future__ import annotations

import numpy as np

from patternlang.compiler.explain import step_cost
from patternlang.engine import regression as reg
from patternlang.engine.directions import equality_rows
from patternlang.plan.ir import Plan, SampleStep, TrainStep, VerifyStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.rundir import atomic_write_json
from patternlang.runtime.steps.common import derive_seed
from patternlang.runtime.steps.validation import EVAL_PROBE, TargetReader

#: a forward pass counted as this share of a forward+backward pass
FORWARD_SHARE = 1.0 / 3.0


def patterning_compute(plan: Plan, solve_id: str) -> dict:
    """Sequences the patterning spent: checkpoint training + sampling + observation."""
    solve = plan.step(solve_id)
    fb = fwd = prefix = 0
    for sid in solve.susceptibilities:
        sample = plan.step(plan.step(sid).sample)
        assert isinstance(sample, SampleStep)
        c = step_cost(sample, plan)
        fb, fwd = fb + c.fwd_bwd, fwd + c.fwd
        train = plan.step(sample.at.train)
        if isinstance(train, TrainStep):
            prefix = max(prefix, (sample.at.step or train.steps) * train.batch)
    return {"checkpoint_fwd_bwd": prefix, "sampling_fwd_bwd": fb, "observation_fwd": fwd,
            "equivalent_fwd_bwd": prefix + fb + FORWARD_SHARE * fwd}


def proxy_compute(runs: int, steps: int, batch: int, components: int) -> dict:
    """Sequences ``runs`` proxy trainings of ``steps`` spend (two evaluations each: start, end)."""
    fb, fwd = runs * steps * batch, runs * 2 * EVAL_PROBE * components
    return {"runs": runs, "steps": steps, "training_fwd_bwd": fb, "observation_fwd": fwd,
            "equivalent_fwd_bwd": fb + FORWARD_SHARE * fwd}


def proxy_steps(step: VerifyStep, plan: Plan) -> int:
    """The proxy horizon: as given, or the one at which the K proxies spend what the patterning
    spent (equal compute), at least 1."""
    assert step.regression is not None
    if step.regression.steps:
        return step.regression.steps
    train = plan.step(step.train)
    assert isinstance(train, TrainStep)
    budget = patterning_compute(plan, step.solve)["equivalent_fwd_bwd"] / step.regression.runs
    per_eval = FORWARD_SHARE * 2 * EVAL_PROBE * len(train.components)
    return max(1, int((budget - per_eval) // train.batch))


def proxy_design(step: VerifyStep, ctx: StepContext) -> tuple[np.ndarray, list[str], int]:
    """The proxy mixtures ``[K, components]``, the component names and the proxy horizon."""
    assert step.regression is not None
    solve = ctx.plan.step(step.solve)
    h0d = ctx.input_summary(step.solve)["baseline"]
    names = list(h0d)
    h0 = np.array([h0d[n] for n in names])
    held = [np.array([r.get(n, 0.0) for n in names]) for r in equality_rows(solve.constraints)]
    mix = reg.proxy_mixtures(h0, names, solve.constraints, held, step.regression.runs,
                             derive_seed("regression", ctx.plan.seed, step.id))
    return mix, names, proxy_steps(step, ctx.plan)


def regression_result(step: VerifyStep, ctx: StepContext, mixtures: np.ndarray,
                      names: list[str], horizon: int, curves: list[dict]) -> dict:
    """Fit every target on the proxy runs' final values and solve the patterning's problem on the
    fit; writes ``regression.json`` in the step directory and returns its record (``weights`` is
    the arm's mixture, or the base mixture when the program on the fit is infeasible)."""
    assert step.regression is not None
    reader = TargetReader(step, ctx)
    h0d = ctx.input_summary(step.solve)["baseline"]
    h0 = np.array([h0d[n] for n in names])
    keep = reader.measurable(curves[0])
    y = np.array([reader.values({c: [[v]] for c, v in cv.items()}, -1, keep)[0] for cv in curves])
    fits = [reg.fit_target(mixtures, y[:, j], h0, step.regression.model) for j in range(len(keep))]
    targets = [reader.targets[i] for i in keep]
    solution = reg.solve_on_fit(fits, targets, h0, names, list(reader.solve.constraints),
                                reader.solve.regularization, f"{step.id} (regression)")
    train = ctx.plan.step(step.train)
    record = {
        "runs": step.regression.runs, "steps": horizon, "model": step.regression.model,
        "mixtures": [dict(zip(names, map(float, m))) for m in mixtures],
        "measured": [dict(zip([t.label for t in targets], map(float, row))) for row in y],
        "fits": [{"target": t.label, "model": f.model, "value_at_base": f.value,
                  "gradient": dict(zip(names, map(float, f.gradient))), "alpha": f.alpha,
                  "cv_rmse": f.cv_rmse, "r2_loo": f.r2_loo} for t, f in zip(targets, fits)],
        "solution": solution.to_dict(),
        "weights": solution.weights_by_name() or dict(h0d),
        "compute": {"patterning": patterning_compute(ctx.plan, step.solve),
                    "regression": proxy_compute(step.regression.runs, horizon, train.batch,
                                                len(train.components))},
    }
    atomic_write_json(ctx.dir.file("regression.json"), record)
    return record

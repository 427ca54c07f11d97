"""The ``regression(K)`` arm of ``verify``: proxy mixtures, their compute, the fit and its solve.

The proxy runs themselves are ordinary verification runs (content-addressed under ``RUN/runs/``,
run by the verify step's workers, resumable, split over ranks); this module chooses their mixtures
and horizon (:func:`proxy_design`) and turns their results into the regression arm's mixture
(:func:`regression_result`) with the engine's fit and solve (:mod:`patternlang.engine.regression`).

The horizon and the compute of the patterning and of the proxies (in sequences, as ``patc compile``
estimates costs) are resolved by the compiler into the plan's ``RegressionArm``.
"""

from __future__ import annotations

import numpy as np

from patternlang.engine import regression as reg
from patternlang.engine.directions import equality_rows
from patternlang.engine.solve import LinearTarget
from patternlang.plan.ir import SolveStep, VerifyStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import SolveResult
from patternlang.runtime.rundir import atomic_write_json
from patternlang.runtime.services.build import derive_seed
from patternlang.runtime.steps.verify.validation import TargetReader, Tracked

def proxy_design(step: VerifyStep, ctx: StepContext) -> tuple[np.ndarray, list[str], int]:
    """The proxy mixtures ``[K, components]``, the component names and the proxy horizon."""
    assert step.regression is not None
    solve = ctx.plan.step_as(step.solve, SolveStep)
    h0d = ctx.result(step.solve, SolveResult).baseline
    names = list(h0d)
    h0 = np.array([h0d[n] for n in names])
    held = [np.array([r.get(n, 0.0) for n in names]) for r in equality_rows(solve.constraints)]
    mix = reg.proxy_mixtures(h0, names, solve.constraints, held, step.regression.runs,
                             derive_seed("regression", ctx.plan.seed, step.id))
    return mix, names, step.regression.steps


def regression_result(step: VerifyStep, ctx: StepContext, reader: TargetReader,
                      mixtures: np.ndarray, names: list[str], horizon: int,
                      curves: list[dict]) -> dict:
    """Fit every target on the proxy runs' final values and solve the patterning's problem on the
    fit; writes ``regression.json`` in the step directory and returns its record (``weights`` is
    the arm's mixture, or the base mixture when the program on the fit is infeasible).
    ``curves``: each proxy run's tracked values at its horizon."""
    assert step.regression is not None
    h0d = ctx.result(step.solve, SolveResult).baseline
    h0 = np.array([h0d[n] for n in names])
    y, targets = _measured(step, reader, [{c: [[v]] for c, v in cv.items()} for cv in curves])
    fits = [reg.fit_target(mixtures, y[:, j], h0, step.regression.model)
            for j in range(len(targets))]
    solution = reg.solve_on_fit(fits, targets, h0, names, list(reader.solve.constraints),
                                reader.solve.regularization, f"{step.id} (regression)")
    record = {
        "runs": step.regression.runs, "steps": horizon, "model": step.regression.model,
        "mixtures": [dict(zip(names, map(float, m))) for m in mixtures],
        "measured": [dict(zip([t.label for t in targets], map(float, row))) for row in y],
        "fits": [{"target": t.label, "model": f.model, "value_at_base": f.value,
                  "gradient": dict(zip(names, map(float, f.gradient))), "alpha": f.alpha,
                  "cv_rmse": f.cv_rmse, "r2_loo": f.r2_loo} for t, f in zip(targets, fits)],
        "solution": solution.to_dict(),
        "weights": solution.weights_by_name() or dict(h0d),
        "compute": step.regression.compute,
        "degenerate": reg.design_problems(mixtures, h0, _free(step, ctx, names)),
    }
    atomic_write_json(ctx.dir.file("regression.json"), record)
    return record


def _free(step: VerifyStep, ctx: StepContext, names: list[str]) -> int:
    """Free directions of the weights: components − 1 (the sum) − the equality constraints."""
    return max(0, len(names) - 1 - len(equality_rows(ctx.plan.step_as(step.solve, SolveStep).constraints)))


def _measured(step: VerifyStep, reader: TargetReader, finals: list[dict]
              ) -> tuple[np.ndarray, list[LinearTarget]]:
    """Each proxy run's value of the targets ``[runs, targets]`` and the targets the fit is solved
    for: the patterning's measurable targets, or — when training tracks none of them — the onset
    proxy, raised (lowered, for a ``<=`` onset) by ten times the spread the proxies showed: more
    than a step inside the trust region reaches, so the solution runs to the region's edge along
    the fitted gradient, the black-box counterpart of "make this solution win"
    (``docs/validation.md``). Not "reach the threshold": where the base mixture already ends above
    it on average, that would ask to *lower* the observable."""
    tracked = Tracked(reader, step, finals[0])
    if not tracked:
        return np.zeros((len(finals), 0)), []
    y = np.array([tracked.values(f, -1)[0] for f in finals])
    proxy = tracked.proxy
    if proxy is None:
        return y, [reader.targets[i] for i in tracked.keep]
    amount = 10.0 * (float(np.ptp(y)) or 1.0)
    return y, [LinearTarget(coeffs=np.ones(1), kind="raise" if proxy.up else "lower",
                            amount=amount, label=proxy.label)]

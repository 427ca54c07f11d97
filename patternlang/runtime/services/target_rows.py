"""The χ rows a sample step's downstream patternings target, measured from its co-moments.

A sample step knows its targets (the compiler writes them into :attr:`SampleStep.targets`, see
:mod:`patternlang.compiler.checked_targets`); from co-moments it computes χ exactly as its
susceptibility step will (:func:`chi_of`: per center, pools split off, averaged over centers),
then each target's row as the solver sees it (:func:`target_rows`: the target's coefficients
over the observable coordinates times nβ·χ, per data component, with its standard error and its
*movable-step* |z|: the row projected on the steps its solve can take, see
:mod:`patternlang.engine.solve.resolved`). ``draws = auto`` stops on that |z|, the same rule
``require resolved`` applies; ``step = auto`` asks the rows to agree across ε.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import Plan, SampleStep, SolveStep
from patternlang.runtime.results_types import ChiResult
from patternlang.runtime.services.chi import combine, split_pools
from patternlang.runtime.services.rows import Rows, linearize


@dataclass
class TargetRow:
    """One target's response row ``cᵀ·nβχ`` per component, its standard errors and best |z|."""

    label: str
    components: list[str]
    value: np.ndarray
    se: np.ndarray
    free: np.ndarray | None = None  # the components its solve may move (None: all)
    replicates: np.ndarray | None = None  # [C, components]: the row from each coupled chain

    @property
    def best_abs_z(self) -> float | None:
        """The movable-step |z| (:func:`~patternlang.engine.solve.resolved.movable_z`)."""
        from patternlang.engine.solve.resolved import movable_z

        free = np.ones(len(self.value), bool) if self.free is None else self.free
        z, _ = movable_z(self.value, self.se, free, self.replicates)
        return float(z) if np.isfinite(z) else None

    def to_dict(self) -> dict[str, Any]:
        fin = lambda a: [float(x) if np.isfinite(x) else None for x in a]  # noqa: E731
        return {"label": self.label, "components": self.components, "value": fin(self.value),
                "se": fin(self.se), "best_abs_z": self.best_abs_z}


def chi_of(sample: SampleStep, moments: list, nbeta: float) -> ChiResult:
    """χ of ``sample``'s susceptibility from per-center co-moments, as that step computes it."""
    from patternlang.engine.chi import estimate_chi

    chis, _ = split_pools([estimate_chi(m) for m in moments], sample)
    result, _, _ = combine(chis, sample, nbeta)
    return result


def target_rows(sample: SampleStep, chi: ChiResult, plan: Plan | None = None) -> list[TargetRow]:
    """The rows of ``sample.targets`` on ``chi`` (a target with several outputs, e.g. per head,
    gives one row each, labelled ``label[i]`` as the solver labels them); with the ``plan``, each
    row knows which components its solve may move."""
    from patternlang.engine.solve.resolved import target_response

    solves = {t.solve for t in sample.targets}
    out = []
    for checked in sample.targets:
        rows = Rows(checked.solve, [(checked.susceptibility, chi)])
        try:
            mat = linearize(checked.target.expr, rows, checked.solve)
        except PatRuntimeError:  # reads observables this step does not observe: not its row
            continue
        label = checked.target.label if len(solves) == 1 else f"{checked.solve}: {checked.target.label}"
        for r, coeffs in enumerate(mat):
            reps = None if rows.replicates is None else np.einsum("m,cmk->ck", coeffs, rows.replicates)
            value, se = target_response(coeffs, rows.response, rows.response_se, reps)
            out.append(TargetRow(label if len(mat) == 1 else f"{label}[{r}]", list(rows.components),
                                 value, se, solve_free(plan, checked.solve, rows.components), reps))
    return out


def solve_free(plan: Plan | None, solve_id: str, components: list[str]) -> np.ndarray | None:
    """The components the solve step ``solve_id`` may move (None without a plan)."""
    from patternlang.engine.solve.resolved import free_components

    if plan is None:
        return None
    solve = plan.step_as(solve_id, SolveStep)
    h0 = np.array([float(solve.mixture.weights.get(c, 0.0)) for c in components])
    return free_components(components, h0, list(solve.constraints))

"""The solve's rows and linear targets, built once by the solve and read by the steps after it.

The solve step stacks its input susceptibilities into rows (:class:`~.rows.Rows`: nβ·χ per
observed coordinate) and turns its targets into linear functionals of them
(:func:`~.rows.linear_targets`). Verification measures the same functionals on its training curves
(the calibration, the validation's targets, the regression arm's fit), so the solve writes what it
built as ``rows.json`` in its step directory (:class:`~patternlang.runtime.results_types.SolveRows`,
named by ``SolveResult.rows``) and verification reads it back with :func:`read_rows`::

    rows = read_rows(ctx, step.solve)     # a SolvedRows
    rows.response @ dh                    # predicted change of every row
    rows.targets[0].coeffs, rows.desired  # the solver's targets, as it solved for them

A run directory written before ``rows.json`` existed has ``SolveResult.rows = None``; its rows are
rebuilt from the susceptibilities' χ the way the solve builds them (:func:`build_rows`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from patternlang.plan.ir import SolveStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ObservedExpr, SolveResult, SolveRows, SolveTarget
from patternlang.runtime.rundir import atomic_write_json, read_json
from patternlang.runtime.services.rows import RowIndex, Rows, linear_targets

if TYPE_CHECKING:
    from patternlang.engine.solve import LinearTarget

#: the file of a solve step's rows and targets, beside its ``done.json``
ROWS_FILE = "rows.json"


class SolvedRows(RowIndex):
    """A solve's rows as arrays, with its linear targets (:class:`LinearTarget`) and their desired
    changes: what verification reads. ``linearize`` works on it as on :class:`Rows` (it is a
    :class:`RowIndex`), so a verify observable becomes coefficients over the same rows."""

    def __init__(self, record: SolveRows):
        from patternlang.engine.solve import LinearTarget

        super().__init__(list(record.names), [(s, o) for s, o in record.owners],
                         {(e.susceptibility, e.observable): e.expr for e in record.exprs})
        self.record = record
        self.components = list(record.components)
        self.response = np.asarray(record.response, float)
        self.response_se = np.asarray(record.response_se, float)
        self.mu0 = np.asarray(record.mu0, float)
        self.targets = [LinearTarget(coeffs=np.asarray(t.coeffs, float), kind=t.kind,
                                     amount=t.amount, value=t.value, weight=t.weight, label=t.label,
                                     direction=_direction(t, self.components))
                        for t in record.targets]
        self.desired = [t.desired for t in record.targets]


def _direction(t: SolveTarget, components: list[str]) -> np.ndarray | None:
    return None if t.direction is None else np.array([t.direction[c] for c in components], float)


def rows_record(rows: Rows, targets: list[LinearTarget], step_id: str) -> SolveRows:
    """The record of ``rows`` and the ``targets`` solved on them (``desired``: the change each
    target asks for, :func:`~patternlang.engine.solve.desired_changes`; ``row``/``row_se``: its
    response ``cᵀ·nβχ`` per component)."""
    from patternlang.engine.solve import desired_changes

    desired = desired_changes(targets, rows.mu0, step_id)
    return SolveRows(
        names=list(rows.names), owners=list(rows.owner),
        exprs=[ObservedExpr(susceptibility=s, observable=o, expr=e) for (s, o), e in rows.exprs.items()],
        components=list(rows.components), response=rows.response.tolist(),
        response_se=rows.response_se.tolist(), mu0=rows.mu0.tolist(),
        targets=[_target(t, float(d), rows) for t, d in zip(targets, desired)])


def _target(t: LinearTarget, desired: float, rows: Rows) -> SolveTarget:
    """One target's record; its response row as the solver's resolution test sees it
    (:func:`~patternlang.engine.solve.resolved.target_response`, coupled replicates included)."""
    from patternlang.engine.solve.resolved import target_response

    row = row_se = direction = None
    if t.kind == "move":
        if t.direction is not None:
            direction = dict(zip(rows.components, map(float, t.direction)))
    else:
        reps = None if rows.replicates is None else np.einsum("m,cmk->ck", t.coeffs, rows.replicates)
        value, se = target_response(t.coeffs, rows.response, rows.response_se, reps)
        row = dict(zip(rows.components, map(float, value)))
        row_se = dict(zip(rows.components, map(float, se)))
    return SolveTarget(label=t.label, kind=t.kind, weight=float(t.weight), amount=t.amount,
                       value=t.value, desired=desired, coeffs=[float(c) for c in t.coeffs],
                       direction=direction, row=row, row_se=row_se)


def write_rows(ctx: StepContext, rows: Rows, targets: list[LinearTarget], step_id: str) -> str:
    """Write the solve step's ``rows.json``; returns its name (``SolveResult.rows``)."""
    atomic_write_json(ctx.dir.file(ROWS_FILE),
                      rows_record(rows, targets, step_id).model_dump(mode="json"))
    return ROWS_FILE


def build_rows(solve: SolveStep, ctx: StepContext, baseline: dict[str, float]) -> SolveRows:
    """The rows and targets of ``solve`` rebuilt from its susceptibilities' χ, as the solve builds
    them (targets around the normalized ``baseline``): for a run directory without ``rows.json``."""
    rows = Rows.of(solve, ctx)
    h0 = np.array([baseline[c] for c in rows.components], float)
    targets, _ = linear_targets(solve.targets, rows, solve.id, h0 / h0.sum())
    return rows_record(rows, targets, solve.id)


def read_rows(ctx: StepContext, solve_id: str) -> SolvedRows:
    """The rows and targets of the finished solve step ``solve_id`` (its ``rows.json``, or rebuilt
    from χ in a run directory written before that file existed)."""
    sol = ctx.result(solve_id, SolveResult)
    if sol.rows is None:
        return SolvedRows(build_rows(ctx.plan.step_as(solve_id, SolveStep), ctx, sol.baseline))
    return SolvedRows(SolveRows.model_validate(read_json(ctx.input_dir(solve_id).file(sol.rows))))


__all__ = ["ROWS_FILE", "SolvedRows", "build_rows", "read_rows", "rows_record", "write_rows"]

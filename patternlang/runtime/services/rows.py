"""The constrained inverse problem over one or more susceptibility steps (the ``solve`` step's
machinery; its runner, with iterative rounds, is in :mod:`patternlang.runtime.steps.solve.runner`).

The rows of the response matrix are the observable coordinates of every input susceptibility step
(named ``<step>:<coordinate>`` when there are several), scaled by that step's nbeta, so
Δμ ≈ nβ·χ·Δh. Targets are linear functionals of those rows, built from the target expressions:
``ref`` nodes (declared observables) and primitive calls that match an observed expression, combined
with ``mean``, ``sum``, ``index``, ``+``, ``-`` and multiplication / division by constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import ObsExpr, SolveStep, TargetSpec
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ChiResult, SolveRecord
from patternlang.runtime.rundir import atomic_write_json
from patternlang.runtime.services.chi import fd_contradictions

if TYPE_CHECKING:
    from patternlang.engine.solve import LinearTarget


class RowIndex:
    """Which observed coordinate each row is: the lookup :func:`linearize` reads to turn an
    observable expression into coefficients over the rows.

    Args:
        names: one per row (``<coordinate>``, or ``<susceptibility>:<coordinate>`` with several).
        owner: ``(susceptibility id, declared observable)`` of each row.
        exprs: the expression (an ObsExpr as JSON) each susceptibility observed under each name.
    """

    def __init__(self, names: list[str], owner: list[tuple[str, str]],
                 exprs: dict[tuple[str, str], dict]):
        self.names = names
        self.owner = owner
        self.exprs = exprs

    def rows_of(self, source: str | None, name: str) -> list[int]:
        """The rows of declared observable ``name`` (of susceptibility ``source``, or of any)."""
        return [i for i, (sid, obs) in enumerate(self.owner)
                if obs == name and (source is None or sid == source)]

    def rows_matching(self, node: ObsExpr) -> list[int]:
        """The rows of the first observable declared as exactly ``node`` (none: [])."""
        want = node.model_dump(mode="json")
        for (sid, obs), expr in self.exprs.items():
            if expr == want:
                return self.rows_of(sid, obs)
        return []


class Rows(RowIndex):
    """The stacked coordinates of the input susceptibilities, with a name -> rows lookup.

    Args:
        step_id: the solve step (for messages).
        sources: ``(susceptibility step id, its result)`` in order.
    """

    def __init__(self, step_id: str, sources: list[tuple[str, ChiResult]]):
        super().__init__([], [], {})
        resp, se, mu, raw = [], [], [], []
        self.sd_obs: list[np.ndarray] = []
        self.sd_comp: np.ndarray | None = None
        self.standardize = True
        self.fd_rows: list[tuple[str, dict]] = []  # (susceptibility id, finite-difference row)
        comps = None
        many = len(sources) > 1
        for sid, s in sources:
            if comps is None:
                comps = s.components
            elif s.components != comps:
                raise PatRuntimeError(step_id, f"susceptibilities {[i for i, _ in sources]} use "
                                      "different data components", "use the same components")
            nb = float(s.nbeta)
            raw.append(np.asarray(s.chi, float))
            resp.append(nb * raw[-1])
            nan = [np.nan] * len(s.observables)
            self.sd_obs.append(np.asarray(s.sd_obs if s.sd_obs is not None else nan, float))
            if self.sd_comp is None and s.sd_comp is not None:
                self.sd_comp = np.asarray(s.sd_comp, float)
            self.standardize = s.standardize
            se.append(nb * np.asarray(s.chi_se, float))
            mu.append(np.asarray(s.mu, float))
            self.fd_rows += [(sid, r.model_dump()) for r in s.finite_difference or []]
            for coord, obs in zip(s.observables, s.observable_of):
                self.names.append(f"{sid}:{coord}" if many else coord)
                self.owner.append((sid, obs))
            for obs, expr in s.observable_exprs.items():
                self.exprs[(sid, obs)] = expr
        self.components: list[str] = comps or []
        # the response of each coupled chain [C, rows, components] (one coupled source only)
        self.replicates = None
        if len(sources) == 1 and sources[0][1].coupled is not None and sources[0][1].coupled.per_chain:
            per = np.array(sources[0][1].coupled.per_chain, dtype=float)
            self.replicates = float(sources[0][1].nbeta) * per
        self.chi = np.vstack(raw)
        self.response = np.vstack(resp)
        self.response_se = np.vstack(se)
        self.mu0 = np.concatenate(mu)

    @classmethod
    def of(cls, step: SolveStep, ctx: StepContext) -> "Rows":
        """The rows of a solve step's input susceptibilities."""
        return cls(step.id, [(sid, ctx.result(sid, ChiResult)) for sid in step.susceptibilities])


def linearize(node: ObsExpr, rows: RowIndex, step_id: str) -> np.ndarray:
    """The target expression as a matrix [outputs, coordinates] (one output for a scalar)."""
    m = len(rows.names)
    op = node.op
    if op in ("ref", "prim"):
        idx = rows.rows_of(node.source, node.name) if op == "ref" else rows.rows_matching(node)
        if not idx:
            raise PatRuntimeError(step_id, f"target uses '{node.name}', which no input "
                                  "susceptibility observed", "add it to the susceptibility's observe list")
        out = np.zeros((len(idx), m))
        out[np.arange(len(idx)), idx] = 1.0
        return out
    if op == "const":
        raise PatRuntimeError(step_id, "a target is a constant", "target an observable")
    # a matrix per operand, or the value of a constant operand (a factor, or a shift dropped below)
    parts: list[Any] = [linearize(o, rows, step_id) if o.op != "const" else float(o.value)
                        for o in node.operands]
    if op in ("mean", "sum"):
        return parts[0].mean(0, keepdims=True) if op == "mean" else parts[0].sum(0, keepdims=True)
    if op == "index":
        return parts[0][[node.index]]
    if op == "neg":
        return -parts[0]
    if op in ("add", "sub"):
        a, b = parts
        if isinstance(a, float) or isinstance(b, float):  # constants shift, not scale: drop them
            return a if not isinstance(a, float) else (b if op == "add" else -b)
        return a + b if op == "add" else a - b
    if op in ("mul", "div"):
        a, b = parts
        if isinstance(b, float):
            return a * b if op == "mul" else a / b
        if isinstance(a, float) and op == "mul":
            return a * b
    raise PatRuntimeError(step_id, f"target expression is not linear in the observables ({op})",
                          "targets may combine observables with +, -, mean, sum and constant factors")


def move_choice(t: TargetSpec, rows: Rows, h0: np.ndarray, step_id: str):
    """The requested direction of a move target (:func:`~patternlang.engine.solve.direction.mode_direction`)
    on the rows' χ, around the current weights ``h0``."""
    from patternlang.engine.solve.direction import mode_direction

    sd_obs = np.concatenate(rows.sd_obs) if rows.sd_obs else np.full(len(rows.names), np.nan)
    if rows.standardize and (rows.sd_comp is None or not np.all(np.isfinite(sd_obs))):
        raise PatRuntimeError(step_id, "the susceptibility result has no posterior standard "
                              "deviations, which the principal directions are standardized by",
                              "re-run the susceptibility step (run with --force or a new run dir)")
    coeffs = None if t.mode is not None else linearize(t.expr, rows, step_id)[0]
    sd_comp = rows.sd_comp if rows.sd_comp is not None else np.ones(len(rows.components))
    return mode_direction(rows.chi, sd_obs, sd_comp, h0, rows.names, rows.components,
                          standardize=rows.standardize, index=t.mode, coeffs=coeffs, step=step_id)


def linear_targets(targets: list[TargetSpec], rows: Rows, step_id: str,
                   h0: np.ndarray | None = None) -> tuple[list, list[dict]]:
    """The solver's targets, and a record per move target of the mode it chose."""
    from patternlang.engine.solve import LinearTarget

    out, modes = [], []
    for t in targets:
        if t.kind == "move":
            h = h0 if h0 is not None else np.full(len(rows.components), 1 / len(rows.components))
            mc = move_choice(t, rows, h, step_id)
            out.append(LinearTarget(coeffs=np.zeros(len(rows.names)), kind="move", amount=t.amount,
                                    weight=t.weight, label=t.label, direction=mc.direction))
            modes.append({"label": t.label, "mode": mc.index, "singular_value": mc.singular_value,
                          "loading": mc.loading, "gains": mc.gains, "structure": mc.structure,
                          "direction": dict(zip(rows.components, map(float, mc.direction)))})
            continue
        mat = linearize(t.expr, rows, step_id)
        for r, coeffs in enumerate(mat):
            label = t.label if len(mat) == 1 else f"{t.label}[{r}]"
            out.append(LinearTarget(coeffs=coeffs, kind=t.kind, amount=t.amount, value=t.value,
                                    weight=t.weight, label=label))
    return out, modes


@dataclass(frozen=True)
class Solved:
    """One solve: its record and the linear targets it solved for, which the solve's trust checks
    and its ``rows.json`` reuse instead of building them again."""

    record: SolveRecord
    targets: list[LinearTarget]


def solve_once(step: SolveStep, rows: Rows, weights: dict[str, float], out_file) -> Solved:
    """One inverse solve around ``weights``; writes ``out_file`` (even when infeasible) and returns
    the solution record with its targets; raises :class:`~patternlang.errors.InfeasibleError` if
    there is none."""
    from patternlang.engine.solve import require_feasible, solve_weights

    missing = [c for c in rows.components if c not in weights]
    if missing:
        raise PatRuntimeError(step.id, f"components {missing} are not in mixture "
                              f"'{step.mixture.name}'", "solve over the mixture the χ was measured on")
    h0 = np.array([weights[c] for c in rows.components])
    targets, modes = linear_targets(step.targets, rows, step.id, h0 / h0.sum())
    solution = solve_weights(rows.response, rows.response_se, h0, rows.components, rows.names,
                             targets, list(step.constraints),
                             regularization=step.regularization, mu0=rows.mu0, step=step.id)
    record = solution.to_dict()
    if modes:
        record["modes"] = modes
    resolution = add_resolution(record, rows, targets, step, h0 / h0.sum(), solution.delta_h)
    atomic_write_json(out_file, record)
    try:
        require_feasible(solution, step.id)
        check_resolved(step, resolution)
    except PatRuntimeError as exc:  # say where the rejected solution is, to read it
        raise type(exc)(exc.step, f"{exc.cause} (the rejected solution is in {out_file})",
                        exc.remedy, exc.info.details) from exc
    return Solved(SolveRecord.model_validate(record), targets)


#: a ``hold`` without ``by T`` tolerates a change of this fraction of its posterior standard deviation
HOLD_SD_FRACTION = 0.1


def hold_tolerances(targets: list, rows: Rows, step: SolveStep) -> list[float | None]:
    """Each target's hold tolerance: ``hold E by T`` gives T; a plain ``hold`` tolerates
    ``HOLD_SD_FRACTION`` of E's posterior standard deviation (its coordinates' sds in quadrature:
    a change well inside the posterior's own spread); None for other kinds."""
    sd = np.concatenate(rows.sd_obs) if rows.sd_obs else np.full(len(rows.names), np.nan)
    given = {t.label: t.amount for t in step.targets if t.kind == "hold"}
    out: list[float | None] = []
    for t in targets:
        if t.kind != "hold":
            out.append(None)
            continue
        amount = given.get(t.label, given.get(t.label.rsplit("[", 1)[0]))
        spread = float(np.sqrt(np.nansum((np.asarray(t.coeffs) * sd) ** 2)))
        out.append(float(amount) if amount else HOLD_SD_FRACTION * spread if spread > 0 else None)
    return out


def add_resolution(record: dict, rows: Rows, targets: list, step: SolveStep, h0: np.ndarray,
                   delta_h: np.ndarray | None) -> list:
    """Put each target's resolution on the movable step (:mod:`~patternlang.engine.solve.resolved`)
    and the warnings (unresolved targets, contradicting finite-difference checks) into the solution
    ``record``; return the resolutions. ``move`` targets are judged by the split-half cosine, not
    here (they have no row)."""
    from patternlang.engine.solve.resolved import (free_components, target_resolution,
                                                   unresolved_warnings)

    judged = [t for t in targets if t.kind != "move"]
    free = free_components(rows.components, h0, list(step.constraints))
    resolution = target_resolution([t.coeffs for t in judged], [t.label for t in judged],
                                   rows.response, rows.response_se, rows.components, free,
                                   [t.kind for t in judged], delta_h,
                                   hold_tolerances(judged, rows, step), replicates=rows.replicates)
    record["resolved"] = [r.to_dict() for r in resolution]
    record["warnings"] = unresolved_warnings(resolution) + fd_warnings(rows, targets)
    return resolution


def check_resolved(step: SolveStep, resolution: list) -> None:
    """``require resolved``: an unresolved target is an error (the solution is already written)."""
    if step.require_resolved and not all(r.resolved for r in resolution):
        raise PatRuntimeError(step.id, "require resolved: " + "; ".join(
            _unresolved_reason(r) for r in resolution if not r.resolved),
            "the coupled estimator (estimator = coupled(delta = 0.05)), more draws or chains in the "
            "susceptibility's sampler, a later checkpoint, or drop 'require resolved' to accept "
            "the solution with a warning")


def _unresolved_reason(r) -> str:
    if r.kind == "hold" and r.tolerance is not None:
        return (f"hold '{r.label}' predicted {r.predicted:+.3g} ± {r.predicted_se:.2g} does not fit "
                f"its tolerance {r.tolerance:.3g} at 3 SE")
    mz = "n/a" if r.movable_z != r.movable_z else f"{r.movable_z:.2g}"
    return f"target '{r.label}' has movable-step |z| = {mz} < 3 over {r.dof} free directions"


def fd_warnings(rows: Rows, targets: list) -> list[str]:
    """Finite-difference checks that contradict a resolved χ entry of an observable a target uses."""
    used = {rows.owner[i] for t in targets for i in np.flatnonzero(t.coeffs)}
    return fd_contradictions([r for sid, r in rows.fd_rows if (sid, fd_owner(r["observable"])) in used])


def fd_owner(label: str) -> str:
    """The declared observable of a finite-difference row: ``mean(ih)`` and ``ih[l1h0]`` -> ``ih``,
    ``loss(markov)`` -> ``loss(markov)``."""
    if label.startswith("mean(") and label.endswith(")"):
        label = label[len("mean("):-1]
    return label.split("[")[0]

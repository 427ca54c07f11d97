"""Per-sample patterning in the ``solve`` step (``samples = [pool, ...]``; the program and its
solvers: :mod:`patternlang.engine.solve.samples`).

The atoms are the mixture's other components followed by every example of each pool, in the order
of the susceptibility's ``per_sample.npz``. Outputs: ``solution.json`` (component-level weights —
a pool's weight is the sum of its examples' — with predictions and diagnostics in the shape of a
component solution) and ``sample_weights.npz``: per pool, ``<pool>`` the new distribution over its
examples (summing to one) and ``<pool>.atoms`` the absolute weights; ``train`` and ``verify`` read it.
"""

from __future__ import annotations

import numpy as np

from patternlang.errors import InfeasibleError, PatRuntimeError
from patternlang.plan.ir import SolveStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ChiResult, SolveRecord
from patternlang.runtime.rundir import atomic_write_json
from patternlang.runtime.services.mixtures import SampleWeights
from patternlang.runtime.services.rows import (Rows, Solved, add_resolution, check_resolved,
                                               linear_targets)

SAMPLE_WEIGHTS = "sample_weights.npz"


def atoms_of(step: SolveStep, ctx: StepContext, rows: Rows, weights: dict[str, float]):
    """(atom names, component of each atom, baseline weights p0, response nβ·χ over atoms, its SE)."""
    sid = step.susceptibilities[0]
    summary = ctx.result(sid, ChiResult)
    rec = summary.per_sample
    if rec is None:
        raise PatRuntimeError(step.id, f"susceptibility '{sid}' has no per-example χ",
                              "set per_sample = [pool] in the susceptibility and re-run it")
    z = np.load(ctx.input_dir(sid).file(rec.file))
    names = [str(n) for n in z["names"]]
    nb = ctx.nbeta(sid)
    total = sum(weights[c] for c in rows.components)
    non = [c for c in rows.components if c not in step.samples]
    picks = [j for j, n in enumerate(names) if n.split("[", 1)[0] in step.samples]
    atoms = non + [names[j] for j in picks]
    comp = non + [names[j].split("[", 1)[0] for j in picks]
    size = {k: sum(1 for c in comp if c == k) for k in step.samples}
    p0 = np.array([weights[c] / total if c in non else weights[c] / total / size[c] for c in comp])
    idx = [rows.components.index(c) for c in non]
    resp = np.hstack([rows.response[:, idx], nb * z["chi"][:, picks]])
    se = np.hstack([rows.response_se[:, idx], nb * z["se"][:, picks]])
    return atoms, comp, p0, resp, se


def solve_samples(step: SolveStep, ctx: StepContext, rows: Rows,
                  weights: dict[str, float]) -> Solved:
    """Solve the per-sample program; write ``solution.json`` and ``sample_weights.npz``; return the
    solution record with the targets it solved for (raises :class:`InfeasibleError` when there is
    none)."""
    from patternlang.engine.solve import desired_changes
    from patternlang.engine.solve.diagnostics import propagate_se
    from patternlang.engine.solve.samples import (AtomProblem, atom_constraints, solve_cvxpy,
                                                  solve_kl_dual)

    atoms, comp, p0, resp, se = atoms_of(step, ctx, rows, weights)
    targets, _ = linear_targets(step.targets, rows, step.id)
    t_mat = np.array([t.coeffs for t in targets])
    d = desired_changes(targets, rows.mu0, step.id)
    b_rows, b_ops, b_rhs, trust = atom_constraints(list(step.constraints), comp, p0, step.id)
    problem = AtomProblem(t_mat @ resp, d, np.array([t.weight for t in targets]), p0, b_rows, b_ops,
                          b_rhs, trust, step.regularization)
    sol = solve_kl_dual(problem) if trust[0] == "kl" else solve_cvxpy(problem)
    names = rows.components
    h0 = {c: float(sum(p0[i] for i, k in enumerate(comp) if k == c)) for c in names}
    record = {"status": sol.status, "step": step.id, "solver": sol.method, "seconds": sol.seconds,
              "components": list(names), "observables": list(rows.names), "h0": h0,
              "weights": None, "delta_h": None, "predicted": None, "targets": [],
              "diagnostics": {"singular_values": [], "rank": 0, "condition": None, "unreachable": [],
                              "conflicting": [], "active_constraints": [], "bounds_active": [],
                              "messages": list(sol.messages), "trust_region_binding": [
                                  f"{trust[0]}(base) <= {trust[1]:g}"] if any(
                                  "binding" in m for m in sol.messages) else []},
              "regularization": step.regularization,
              "per_sample": {"atoms": len(atoms), "pools": {k: comp.count(k) for k in step.samples},
                             "kl": sol.kl, "l2": sol.l2, "file": SAMPLE_WEIGHTS}}
    # on the component-level χ (a pool's column), before the step is known
    resolution = add_resolution(record, rows, targets, step, np.array([h0[c] for c in names]), None)
    if sol.p is None:
        atomic_write_json(ctx.dir.file("solution.json"), record)
        raise InfeasibleError(step=step.id, cause=sol.messages[0] if sol.messages else sol.status,
                              remedy="enlarge the trust region or relax the linear constraints",
                              details=record)
    dp = sol.p - p0
    change, change_se = resp @ dp, propagate_se(np.eye(len(rows.names)), se, dp)
    tse = propagate_se(t_mat, se, dp)
    new = {c: float(sum(sol.p[i] for i, k in enumerate(comp) if k == c)) for c in names}
    record.update(weights=new, delta_h={c: new[c] - h0[c] for c in names},
                  predicted={n: {"change": float(change[i]), "se": float(change_se[i])}
                             for i, n in enumerate(rows.names)},
                  targets=[_outcome(t, float(t_mat[i] @ change), float(d[i]), float(tse[i]))
                           for i, t in enumerate(targets)])
    SampleWeights.of(atoms, sol.p, p0, list(step.samples)).save(ctx.dir.file(SAMPLE_WEIGHTS))
    atomic_write_json(ctx.dir.file("solution.json"), record)
    check_resolved(step, resolution)
    return Solved(SolveRecord.model_validate(record), targets)


def _outcome(t, predicted: float, desired: float, se: float) -> dict:
    return {"label": t.label, "kind": t.kind, "desired": desired, "predicted": predicted, "se": se,
            "achieved_fraction": predicted / desired if desired else None, "unreachable": False}

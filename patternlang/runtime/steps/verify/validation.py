"""The validation arms of ``verify`` and its validation summary (``docs/validation.md``).

* :func:`arm_names` expands ``random(K)`` into ``random1`` … ``randomK`` and adds ``regression``;
* :func:`arm_seed` gives each random arm its own seed;
* :class:`TargetReader` maps a verification curve to the patterning's target functionals, or —
  for targets training does not track (free energy, LLC) — to the :class:`Proxy`: the verify's first
  onset observable at the horizon;
* :func:`compute` counts the patterning's sampling + observation compute and the regression's;
* :func:`regression_result` fits the proxy runs and solves the patterning's problem on the fit;
* :func:`validation_summary` and :func:`verdicts` build ``verification[<id>].validation`` and
  ``verification[<id>].verdict`` from the arm summaries (statistics in
  :mod:`patternlang.engine.validation`, verdicts in :mod:`patternlang.engine.verdict`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patternlang.engine import validation as val
from patternlang.engine.solve import diagnostics as diag
from patternlang.engine.verdict import target_verdict
from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import ObsExpr, SolveStep, VerifyStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ArmResult, SolveResult
from patternlang.runtime.services.build import derive_seed
from patternlang.runtime.services.rows import linearize
from patternlang.runtime.services.solved_rows import read_rows
from patternlang.runtime.validation_types import ValidationResult, VerdictResult

def arm_names(step: VerifyStep) -> list[str]:
    """Every arm the verify step retrains, in order."""
    return [*step.arms, *(f"random{i}" for i in range(1, step.random + 1)),
            *(["regression"] if step.regression is not None else [])]


def arm_seed(step: VerifyStep, plan_seed: int, arm: str) -> int:
    """The seed of an arm's random direction (``control``/``orthogonal`` share one, as before)."""
    if arm.startswith("random"):
        return derive_seed("random", plan_seed, step.id, int(arm[len("random"):]))
    return derive_seed("control", plan_seed, step.id)


@dataclass(frozen=True)
class Proxy:
    """The verify's first onset observable standing in for a target training does not track.

    A free energy or an LLC is a property of the posterior at a checkpoint; what patterning it
    claims is *which solution training ends in*, so the proxy is the onset observable at the
    horizon, meant to end on the onset's side of its threshold. ``sign`` turns the primary
    target's predicted change into the predicted change of the observable: +1 when progress on
    the target (its desired direction) means moving the observable up (``>=`` onset), −1 down."""

    observable: str
    primary: int
    primary_label: str
    up: bool
    sign: float
    threshold: float

    @property
    def label(self) -> str:
        return f"{self.observable} (onset proxy of {self.primary_label})"

    def values(self, curves: dict, index: int) -> np.ndarray:
        """The observable ``[seeds, 1]`` at evaluation ``index``."""
        return np.asarray([[s[index]] for s in curves[self.observable]], float)

    def target(self) -> dict:
        return {"label": self.label, "kind": "raise" if self.up else "lower", "weight": 1.0,
                "desired": 0.0}


class TargetReader:
    """The patterning's targets as linear functionals of the tracked coordinates.

    ``rows``: the solve's rows and targets as the solve built them (its ``rows.json``, read by
    :func:`~patternlang.runtime.services.solved_rows.read_rows`); ``targets``: the solve's
    :class:`~patternlang.engine.solve.LinearTarget` list (coefficients over the χ rows);
    ``coords``: the curve coordinate of each row (the row name, without the
    ``<susceptibility>:`` prefix when there are several). One reader serves the verify step's
    calibration, validation, verdicts and regression arm."""

    def __init__(self, step: VerifyStep, ctx: StepContext):
        solve = ctx.plan.step_as(step.solve, SolveStep)
        self.rows = read_rows(ctx, solve.id)
        self.targets = self.rows.targets
        many = len(solve.susceptibilities) > 1
        self.coords = [n.split(":", 1)[1] if many else n for n in self.rows.names]
        self.solve = solve

    def proxy(self, step: VerifyStep, curves: dict) -> Proxy | None:
        """The onset proxy when no target is :meth:`measurable` (``docs/validation.md``, "targets
        training does not track"): the verify's first onset observable, read at the horizon,
        stands in for the patterning's primary (first raise/lower/reach) target. ``None`` without
        an onset whose observable is tracked, or without such a target."""
        if not step.onset or step.onset[0].observable.name not in curves:
            return None
        primary = next((i for i, t in enumerate(self.targets)
                        if t.kind in ("raise", "lower", "reach")), None)
        if primary is None:
            return None
        on = step.onset[0]
        up = on.op in (">", ">=")
        desired = _desired(self, [primary])[0]
        return Proxy(on.observable.name, primary, self.targets[primary].label, up,
                     (1.0 if desired >= 0 else -1.0) * (1.0 if up else -1.0), on.threshold)

    def measurable(self, curves: dict) -> list[int]:
        """Indices of the targets whose every coordinate is tracked in ``curves`` (a ``move along``
        target is a step in the mixture, not a functional of the observables: never measurable)."""
        return [i for i, t in enumerate(self.targets)
                if t.kind != "move" and all(self.coords[m] in curves for m in np.flatnonzero(t.coeffs))]

    def values(self, curves: dict, index: int, keep: list[int]) -> np.ndarray:
        """Target values ``[seeds, targets]`` at evaluation ``index`` of every seed."""
        out = []
        for i in keep:
            c = self.targets[i].coeffs
            out.append(sum(c[m] * np.asarray([s[index] for s in curves[self.coords[m]]], float)
                           for m in np.flatnonzero(c)))
        return np.array(out).T

    def predicted(self, dh: np.ndarray, keep: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Linear response ``T·nβχ·dh`` of each kept target and its standard error."""
        t = np.array([self.targets[i].coeffs for i in keep])
        return t @ self.rows.response @ dh, diag.propagate_se(t, self.rows.response_se, dh)


def _dh(weights: dict, h0: dict, comps: list[str]) -> np.ndarray:
    return np.array([weights[c] - h0[c] for c in comps])


def evaluation_index(step: VerifyStep, arms: dict[str, ArmResult], steps: list[int]
                     ) -> tuple[int, str]:
    """The evaluation the realized changes are read at, and why: the one nearest the baseline's
    mean onset (inside its transition, where arms differ most; absent seeds count at the horizon),
    else the horizon."""
    base = arms["baseline"].onset if "baseline" in arms else {}
    for on in step.onset:
        o = base.get(on.observable.name)
        if o and o.mean is not None:
            i = int(np.argmin(np.abs(np.asarray(steps) - o.censored_mean)))
            return i, f"the evaluation nearest the baseline's mean onset of {on.observable.name}"
    return len(steps) - 1, "the horizon (no onset declared, or the baseline never crossed it)"


def onset_lower_is_better(step: VerifyStep, reader: TargetReader, dh: np.ndarray) -> bool | None:
    """Whether an earlier onset is the patterning's intent: the onset observable is meant to move
    toward its threshold (the desired direction of a raise/lower target on the same functional of
    the observed rows, else the solver's predicted change of the observable). ``None`` without an
    onset."""
    if not step.onset:
        return None
    on = step.onset[0]
    mat = _functional(on.observable.expr, reader)
    want = None
    for t in reader.targets:
        if mat is not None and t.kind in ("raise", "lower") and mat.shape == (1, len(t.coeffs)) \
                and np.allclose(mat[0], t.coeffs):
            want = 1.0 if t.kind == "raise" else -1.0
            break
    if want is None and mat is not None:
        want = float((mat @ reader.rows.response @ dh).mean())
    up = on.op in (">", ">=")
    return bool((want or 0.0) >= 0) == up


def _functional(expr: ObsExpr, reader: TargetReader) -> np.ndarray | None:
    try:
        return linearize(expr, reader.rows, reader.solve.id)
    except PatRuntimeError:  # not linear in the observed rows
        return None


class Tracked:
    """What the validation and the regression arm read from verification curves: the measurable
    targets (``keep``), or, when training tracks none of them, the onset proxy (``proxy``)."""

    def __init__(self, reader: TargetReader, step: VerifyStep, curves: dict):
        self.reader = reader
        self.keep = reader.measurable(curves)
        self.proxy = None if self.keep else reader.proxy(step, curves)

    def __bool__(self) -> bool:
        return bool(self.keep) or self.proxy is not None

    def targets(self) -> list[dict]:
        if self.proxy is not None:
            return [self.proxy.target()]
        return [{"label": t.label, "kind": t.kind, "weight": t.weight, "desired": d}
                for t, d in zip([self.reader.targets[i] for i in self.keep],
                                _desired(self.reader, self.keep))]

    def values(self, curves: dict, index: int) -> np.ndarray:
        if self.proxy is not None:
            return self.proxy.values(curves, index)
        return self.reader.values(curves, index, self.keep)

    def predicted(self, dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.proxy is not None:
            p, se = self.reader.predicted(dh, [self.proxy.primary])
            return self.proxy.sign * p, se
        return self.reader.predicted(dh, self.keep)


def _arms_data(step: VerifyStep, ctx: StepContext, arms: dict[str, ArmResult], steps: list[int],
               reader: TargetReader) -> tuple[val.ArmsData, Tracked, int, str] | None:
    sol = ctx.result(step.solve, SolveResult)
    h0, comps = sol.baseline, reader.rows.components
    names = [a for a in arm_names(step) if a in arms]
    if "baseline" not in arms or "patterned" not in arms:
        return None
    tracked = Tracked(reader, step, arms[names[0]].curves)
    if not tracked:
        return None
    pred = {a: tracked.predicted(_dh(arms[a].weights, h0, comps)) for a in names}
    tgts = tracked.targets()
    primary = next((j for j, t in enumerate(tgts) if t["kind"] != "hold"), 0)
    if tracked.proxy is not None:  # a posterior-only target: which solution training ends in
        idx, why = len(steps) - 1, "the horizon (the onset proxy reads where training ends)"
        onset, lower = {}, None
    else:
        idx, why = evaluation_index(step, arms, steps)
        onset = {a: arms[a].onset[step.onset[0].observable.name].per_seed for a in names} \
            if step.onset and step.onset[0].observable.name in arms[names[0]].onset else {}
        lower = onset_lower_is_better(step, reader, _dh(sol.final_weights, h0, comps)) \
            if onset else None
    data = val.ArmsData(names, {a: tracked.values(arms[a].curves, idx) for a in names},
                        {a: p[0] for a, p in pred.items()}, {a: p[1] for a, p in pred.items()},
                        tgts, primary, step.steps, onset, lower)
    return data, tracked, idx, why


def _desired(reader: TargetReader, keep: list[int]) -> list[float]:
    """The desired change of each kept target, as the solve computed it."""
    return [float(reader.rows.desired[i]) for i in keep]


def validation_summary(step: VerifyStep, ctx: StepContext, reader: TargetReader,
                       arms: dict[str, ArmResult], steps: list[int],
                       regression: dict | None = None) -> ValidationResult | None:
    """``verification[<id>].validation`` (``docs/validation.md``); ``None`` without a baseline
    and a patterned arm, or when no target is tracked. ``arms``: the verify's arm results."""
    got = _arms_data(step, ctx, arms, steps, reader)
    if got is None:
        return None
    data, tracked, idx, why = got
    out = val.summarize(data, seed=derive_seed("bootstrap", ctx.plan.seed, step.id))
    out["evaluated_at"] = int(steps[idx])
    out["evaluated_at_reason"] = why
    out["objective"] = (f"onset of {step.onset[0].observable.name} (censored at {step.steps})"
                        if data.onset_lower_is_better is not None else
                        f"change of {data.targets[data.primary]['label']} at step {steps[idx]}")
    out["regression"] = regression
    out["proxy"] = None if tracked.proxy is None else tracked.proxy.label
    return ValidationResult.model_validate(out)


def verdicts(step: VerifyStep, ctx: StepContext, reader: TargetReader,
             arms: dict[str, ArmResult], steps: list[int]) -> VerdictResult | None:
    """``verification[<id>].verdict``: per target, desired vs realized (patterned − baseline per
    seed) at the validation's evaluation step and at the horizon; every arm's weights and finals."""
    got = _arms_data(step, ctx, arms, steps, reader)
    if got is None:
        return None
    data, tracked, idx, _ = got
    out: dict = {"evaluated_at": int(steps[idx]), "targets": []}
    horizon = {a: tracked.values(arms[a].curves, len(steps) - 1) for a in data.arms}
    for j, t in enumerate(data.targets):
        # the linear response to the patterned arm's step (baseline -> final weights)
        pred = float(data.predicted["patterned"][j]), float(data.predicted_se["patterned"][j])
        at = target_verdict(t["label"], t["kind"], t["desired"], *pred,
                            data.values["patterned"][:, j], data.values["baseline"][:, j])
        end = target_verdict(t["label"], t["kind"], t["desired"], *pred,
                             horizon["patterned"][:, j], horizon["baseline"][:, j])
        out["targets"].append({**at, "at_horizon": end})
    out["arms"] = [{"arm": a, "weights": arms[a].weights,
                    "targets": {t["label"]: float(data.values[a][:, j].mean())
                                for j, t in enumerate(data.targets)},
                    "final": {c: v.mean for c, v in arms[a].final.items()}}
                   for a in data.arms]
    return VerdictResult.model_validate(out)

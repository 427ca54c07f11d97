"""Typed records of a verification's validation summary and verdict (``docs/validation.md``):
``VerifyResult.validation`` and ``VerifyResult.verdict`` (:mod:`patternlang.runtime.results_types`).
Built by :mod:`patternlang.runtime.steps.verify.validation` from the plain dicts of
:mod:`patternlang.engine.validation` and :mod:`patternlang.engine.verdict`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Num = float | None  # a number that may be missing (NaN is written as null)
Interval = list[float] | None  # a 95% bootstrap interval over seeds, or null with one seed


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetLDS(_Record):
    target: str
    lds_spearman: Num
    sign_agreement: Num
    sign_resolved_arms: int


class ValidationPoint(_Record):
    """One arm and target: predicted change (nβ·χ·Δh ± SE) and realized change (arm − baseline,
    mean over seeds, and the SD of the per-seed paired differences)."""

    arm: str
    target: str
    predicted: float
    se: Num
    realized: float
    realized_sd: float


class ValidationResult(_Record):
    random_arms: int
    random_percentile: Num
    random_percentile_ci: Interval
    objective_percentile: Num
    objective_percentile_ci: Interval
    lds_target: str
    lds_spearman: Num
    lds_spearman_ci: Interval
    lds_onset_spearman: Num = None  # predicted progress vs realized onset advance (with an onset)
    lds_onset_spearman_ci: Interval = None
    sign_agreement: Num
    sign_agreement_ci: Interval
    sign_resolved_arms: int
    per_target: list[TargetLDS]
    outcomes: dict[str, Num]  # per arm, on the verify's objective
    outcome_lower_is_better: bool
    objectives: dict[str, Num]  # per arm, the realized patterning objective
    points: list[ValidationPoint]
    evaluated_at: int
    evaluated_at_reason: str
    objective: str
    regression: dict[str, Any] | None = None  # the regression arm's record (regression.json)
    proxy: str | None = None  # the onset observable read in place of untracked targets
    #: why a comparison says nothing (all onsets censored); the regression's own are in its record
    degenerate: list[str] = []


class TargetVerdict(_Record):
    target: str
    kind: str
    desired: float
    predicted: Num
    se: Num
    realized_mean: float
    realized_sd: float
    seeds: int
    prediction_resolved: bool
    sign_agrees: bool | None  # None: the prediction is within its SE
    verdict: str
    tolerance: Num = None  # hold only
    held: bool | None = None  # hold only
    reached: bool | None = None  # raise / lower / reach
    at_horizon: TargetVerdict | None = None


class ArmRow(_Record):
    arm: str
    weights: dict[str, float]
    targets: dict[str, float]  # mean over seeds at the evaluation step
    final: dict[str, Num]  # tracked coordinates at the horizon, mean over seeds


class VerdictResult(_Record):
    evaluated_at: int
    targets: list[TargetVerdict]
    arms: list[ArmRow]

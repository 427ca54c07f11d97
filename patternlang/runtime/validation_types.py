"""Typed records of a verification's validation summary and verdict (``docs/validation.md``):
``VerifyResult.validation`` and ``VerifyResult.verdict`` (:mod:`patternlang.runtime.results_types`).
Built by :mod:`patternlang.runtime.steps.verify.validation` from the plain dicts of
:mod:`patternlang.engine.validation` and :mod:`patternlang.engine.verdict`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from patternlang.runtime.result_base import Num, Record, Sparse

Interval = list[float] | None  # a 95% bootstrap interval over seeds, or null with one seed
Count = int | float  # a count of sequences: as the plan holds it (an int, or a float once re-read)

_Record = Record


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


class PatterningCompute(Sparse):
    """What the patterning spent, in sequences (:func:`patternlang.compiler.explain.patterning_compute`):
    forward+backward passes of training to the checkpoint and of sampling, forward passes of
    observation, and their sum with a forward counted as a third of a forward+backward."""

    checkpoint_fwd_bwd: Count
    sampling_fwd_bwd: Count
    observation_fwd: Count
    equivalent_fwd_bwd: Count


class ProxyCompute(Sparse):
    """What the regression arm's proxy runs spend (:func:`patternlang.compiler.explain.proxy_compute`)."""

    runs: Count | None = None
    steps: Count | None = None
    training_fwd_bwd: Count
    observation_fwd: Count
    equivalent_fwd_bwd: Count


class RegressionCompute(_Record):
    patterning: PatterningCompute
    regression: ProxyCompute


class RegressionFit(_Record):
    """One target's fit on the proxy runs (:class:`patternlang.engine.regression.Fit`): the model,
    its value and gradient at the base mixture, the ridge alpha, and its leave-one-out quality."""

    target: str
    model: str
    value_at_base: Num
    gradient: dict[str, Num]
    alpha: Num
    cv_rmse: Num
    r2_loo: Num


class FitSolution(BaseModel):
    """The patterning's problem solved on the fit: :meth:`~patternlang.engine.solve.types.Solution.to_dict`,
    kept key for key; the report reads its ``status``."""

    model_config = ConfigDict(extra="allow")

    status: str


class RegressionRecord(Sparse):
    """The ``regression(K)`` arm (:func:`~patternlang.runtime.steps.verify.regression_arm.regression_result`,
    its ``regression.json``): the proxy runs' mixtures and measured targets, the fits, the solve on
    them and the arm's weights, both methods' compute, and why the design says nothing
    (``degenerate``; records written before it existed lack it)."""

    runs: int
    steps: int
    model: str
    mixtures: list[dict[str, Num]]
    measured: list[dict[str, Num]]
    fits: list[RegressionFit]
    solution: FitSolution
    weights: dict[str, Num]
    compute: RegressionCompute | None
    degenerate: list[str] = []


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
    regression: RegressionRecord | None = None  # the regression arm's record (regression.json)
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

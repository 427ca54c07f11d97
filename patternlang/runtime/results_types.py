"""What each step hands to the steps after it: one pydantic model per step kind.

A runner returns its model; the executor writes it as the step's ``done.json`` and later steps read
it back through :meth:`~patternlang.runtime.context.StepContext.result`, typed::

    sol = ctx.result(step.solve, SolveResult)
    sol.baseline, sol.final_weights      # h and h' by component name
    sol.predicted["ih[l1h0]"].change     # predicted posterior change from h to h'

``results.json`` serializes the same models (see :mod:`patternlang.runtime.report` and
``docs/results.md``). The names end in ``Result`` and differ from the engine's classes
(:class:`~patternlang.engine.sampler.result.SGLDResult`, :class:`~patternlang.engine.chi.Chi`,
:class:`~patternlang.engine.solve.types.Solution`): these are the JSON hand-offs, not the estimators.

The sample and susceptibility steps' models (:class:`SampleResult`, :class:`ChiResult` and their
records) are in :mod:`patternlang.runtime.sample_types`, the base (:class:`StepResult`) in
:mod:`patternlang.runtime.result_base`; this module re-exports them.

Numbers that may not exist (NaN: a diverged chain, an undefined ratio) are ``float | None``: the
JSON writer turns NaN into ``null``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from patternlang.runtime.result_base import Num, Record, StepResult
from patternlang.runtime.rundir import StepDir
from patternlang.runtime.schema import upgrade_result
from patternlang.runtime.sample_types import (CenterLLC, ChiResult, CoupledRecord, FiniteDiffRow,
                                              HalfChi, Mode, PoolChi, PrincipalResult, SampleResult)
from patternlang.runtime.validation_types import ValidationResult, VerdictResult

_Record = Record

# ----------------------------------------------------------------------------------------------
# train, observe


class TrainPoolResult(StepResult):
    """A pool of training runs (one per seed): the mixture used and every seed's saved checkpoints
    (named apart from the engine's :class:`~patternlang.engine.train.TrainResult`, one run)."""

    kind: Literal["train"] = "train"
    steps: int
    mixture: dict[str, float]
    checkpoints: dict[str, dict[str, str]]  # seed -> training step -> path relative to the step dir
    final_loss: dict[str, Num]  # seed -> loss at the last step


class SeedValues(_Record):
    seed: int
    values: dict[str, Num]


class ObserveResult(StepResult):
    kind: Literal["observe"] = "observe"
    per_seed: list[SeedValues]
    mean: dict[str, Num]


# ----------------------------------------------------------------------------------------------
# solve


class Prediction(_Record):
    """A first-order predicted change of a posterior expectation, with its standard error."""

    change: Num
    se: Num


class TargetOutcome(_Record):
    label: str
    kind: str
    desired: Num
    predicted: Num
    se: Num
    achieved_fraction: Num
    pinv_predicted: Num = None
    unreachable: bool
    angle_deg: Num = None  # move targets: between the requested and the realized step


class PseudoInverse(_Record):
    delta_h: dict[str, Num] | None
    weights: dict[str, Num] | None
    nonnegative: bool | None
    predicted: dict[str, Prediction] | None


class SolveDiagnostics(_Record):
    singular_values: list[float]
    rank: int
    condition: Num
    unreachable: list[str]
    conflicting: list[str]
    active_constraints: list[str]
    trust_region_binding: list[str]
    bounds_active: list[str]
    messages: list[str]


class ModeChoice(_Record):
    """The principal mode a ``move along mode(...)`` target stepped along (see
    :mod:`patternlang.engine.solve.direction`)."""

    label: str
    mode: int
    singular_value: float
    loading: Num  # cosine of the selecting expression with the structure vector (None: by index)
    gains: list[float]  # every mode's standardized gain on the selecting expression
    structure: dict[str, float]
    direction: dict[str, float]  # the requested unit mixture step by component


class PerSampleRecord(_Record):
    """A per-sample solve: atoms, pool sizes, KL and L2 from the baseline, the weights file."""

    atoms: int
    pools: dict[str, int]
    kl: Num
    l2: Num
    file: str
class TargetResolved(_Record):
    """z = response / SE per component of one target's row; resolved on the movable step
    (:mod:`patternlang.engine.solve.resolved`): ``movable_z`` >= 3 over ``dof`` free directions, or
    for a ``hold`` along the solved step ``|predicted| + 3·predicted_se <= tolerance``."""

    label: str
    z: dict[str, Num]
    max_abs_z: Num
    resolved: bool
    kind: str = "raise"
    movable_z: Num = None
    dof: int | None = None
    predicted: Num = None
    predicted_se: Num = None
    tolerance: Num = None


class SolveRecord(_Record):
    """One inverse solve (the JSON of :meth:`patternlang.engine.solve.types.Solution.to_dict`, or
    of a per-sample solve: no pseudo-inverse, ``per_sample`` set)."""

    status: str
    step: str
    solver: str
    components: list[str]
    observables: list[str]
    h0: dict[str, float]
    weights: dict[str, Num] | None
    delta_h: dict[str, Num] | None
    predicted: dict[str, Prediction] | None
    targets: list[TargetOutcome]
    pinv: PseudoInverse | None = None
    diagnostics: SolveDiagnostics
    objective: Num = None
    regularization: float
    regularization_effective: Num = None
    modes: list[ModeChoice] | None = None
    per_sample: PerSampleRecord | None = None
    seconds: Num = None  # the per-sample solver's time
    resolved: list[TargetResolved] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # unresolved targets, contradicting FD checks


class SolveRound(_Record):
    """One round of a solve: round 1 is the solve at the spec's mixture; round r > 1 re-trains,
    re-samples at ``checkpoint`` and re-solves around round r − 1's weights."""

    round: int
    weights: dict[str, float]  # this round's solution h'_r
    solve: SolveRecord  # this round's solve (schema 2: ``solution``)
    checkpoint: str | None = None  # round r > 1: where χ was re-estimated (relative to the step dir)
    chi: list[list[Num]] | None = None  # round r > 1: the re-estimated χ
    chi_se: list[list[Num]] | None = None


class Reproducibility(_Record):
    """The solve repeated on each half of the chains (:func:`~patternlang.runtime.steps.trust.split_half`):
    the cosine between the two steps, each half's step and predicted target changes, and each
    half's cosine with the full solve's step."""

    cosine: Num
    delta_h: list[dict[str, float]]
    predicted: list[dict[str, Num]]
    cosine_full: list[Num] | None = None
    warning: str | None = None


class PosteriorCheckRow(_Record):
    """A target's change measured by sampling at the solved weights (paired with the base weights)
    beside the linear prediction (:func:`~patternlang.runtime.steps.trust.posterior_check`)."""

    target: str
    kind: str
    measured: Num
    measured_se: Num
    predicted: Num
    predicted_se: Num
    ratio: Num
    z: Num  # (measured − predicted) / combined SE
    measured_z: Num  # measured / its SE


class ObservedExpr(_Record):
    """The expression a susceptibility step observed under a declared name, so that a later
    expression matching it (a primitive call) finds the rows it gave."""

    susceptibility: str
    observable: str
    expr: dict[str, Any]  # the ObsExpr as JSON


class SolveTarget(_Record):
    """One of the solver's linear targets over the solve's rows (a target with several outputs,
    e.g. per head, gives one each, labelled ``label[i]``): what it asks (``kind``, ``amount``,
    ``value``, ``weight`` and the ``desired`` change it came to), its coefficients over the rows
    and its response row ``cᵀ·nβχ`` per component with standard errors (None for ``move``)."""

    label: str
    kind: Literal["raise", "lower", "reach", "hold", "move"]
    weight: float
    amount: Num = None
    value: Num = None
    desired: Num
    coeffs: list[float]  # one per row (zeros for a move target)
    direction: dict[str, float] | None = None  # move: the unit mixture step it asked for
    row: dict[str, Num] | None = None
    row_se: dict[str, Num] | None = None


class SolveRows(_Record):
    """The rows of a solve (the observed coordinates of its input susceptibilities, scaled by nβ:
    ``Δμ ≈ response·Δh``) and its linear targets, as the solve built them; written as
    ``rows.json`` in the solve's step directory and read by verification, whose calibration,
    validation and regression arm measure the same functionals
    (:mod:`patternlang.runtime.services.solved_rows`)."""

    names: list[str]  # one per row: ``<coordinate>`` or ``<susceptibility>:<coordinate>``
    owners: list[tuple[str, str]]  # (susceptibility, declared observable) of each row
    exprs: list[ObservedExpr]
    components: list[str]
    response: list[list[Num]]  # [rows, components]: nβ·χ
    response_se: list[list[Num]]
    mu0: list[Num]  # the posterior mean of each row at the checkpoint
    targets: list[SolveTarget]


class SolveResult(StepResult):
    """The new mixture weights and what they are predicted to do.

    ``final_weights`` are the weights after the last round (the ones verification trains under);
    ``predicted`` is the predicted change of every observed coordinate's posterior expectation from
    ``baseline`` to ``final_weights``: the sum of every round's prediction (each at its own χ), SEs
    added in quadrature. With one round these are round 1's weights and prediction.
    """

    kind: Literal["solve"] = "solve"
    baseline: dict[str, float]
    final_weights: dict[str, float]
    predicted: dict[str, Prediction]
    observables: list[str]
    rounds: list[SolveRound]
    sample_weights: str | None = None  # per-sample patterning: the per-example weights file
    reproducibility: Reproducibility | None = None  # the split-half solve
    posterior_check: list[PosteriorCheckRow] | None = None  # coupled estimator only
    warnings: list[str] = Field(default_factory=list)  # split halves, drift, posterior check
    # the file of the solve's rows and targets (SolveRows) in the step directory; None in a run
    # directory written before it existed (the readers rebuild them from χ)
    rows: str | None = None


# ----------------------------------------------------------------------------------------------
# verify, report


class OnsetResult(_Record):
    per_seed: list[int | None]  # first evaluation step crossing the threshold (None = absent)
    mean: Num  # over seeds where it appeared
    absent: int
    censored_mean: Num  # absent seeds counted at the horizon
    final_holds: list[bool]
    final_fraction: Num


class FinalValue(_Record):
    mean: Num
    sd: Num


class ArmResult(_Record):
    weights: dict[str, float]
    seeds: list[int]
    curves: dict[str, list[list[Num]]]  # coordinate -> [seed][evaluation]
    onset: dict[str, OnsetResult]
    final: dict[str, FinalValue]


class OnsetRule(_Record):
    observable: str
    op: str
    threshold: float


class CalibrationRow(_Record):
    """Realized change at the horizon (patterned − baseline) beside the predicted posterior change
    from the solve's baseline to its final weights."""

    observable: str
    predicted: Num
    realized: Num
    ratio: Num
    sign_agrees: bool | None  # None: the prediction is within its SE (no sign to agree with)
    se: Num = None  # of the prediction


class VerifyResult(StepResult):
    kind: Literal["verify"] = "verify"
    steps: list[int]  # evaluation steps of the curves
    arms: dict[str, ArmResult]
    plotted: list[str]
    onset_specs: list[OnsetRule]
    calibration: list[CalibrationRow]
    headline: dict[str, str]
    # with a baseline and a patterned arm (docs/validation.md); null otherwise
    validation: ValidationResult | None = None
    verdict: VerdictResult | None = None


class ReportResult(StepResult):
    kind: Literal["report"] = "report"
    report: str  # path of report.md relative to the run directory


#: the section of results.json that holds each step kind's results
SECTIONS = {"train": "train", "observe": "observations", "sample": "llc",
            "susceptibility": "susceptibilities", "solve": "solves", "verify": "verification"}

AnyResult = Annotated[Union[TrainPoolResult, ObserveResult, SampleResult, ChiResult, SolveResult,
                            VerifyResult, ReportResult], Field(discriminator="kind")]
_ANY = TypeAdapter(AnyResult)
R = TypeVar("R", bound=StepResult)


def read_result(sdir: StepDir) -> StepResult | None:
    """The typed result in a finished step's ``done.json``; ``None`` when the step is not done or
    its ``done.json`` does not read as the current model (written by an older patternlang)."""
    if not sdir.done:
        return None
    try:
        return parse_result(sdir.summary())
    except ValidationError:
        return None


def parse_result(data: dict) -> StepResult:
    """The typed result of a ``done.json`` (the model is chosen by its ``kind``); one written by an
    earlier schema is read through :func:`patternlang.runtime.schema.upgrade_result`."""
    return _ANY.validate_python(upgrade_result(data))


def result_json(result: BaseModel, exclude: set[str] | None = None) -> dict:
    """The JSON form of a result (what ``done.json`` and ``results.json`` hold; also a part's
    record, e.g. a solve round's :class:`SolveRound`)."""
    return result.model_dump(mode="json", exclude=exclude)


__all__ = ["StepResult", "TrainPoolResult", "ObserveResult", "SampleResult", "ChiResult", "SolveResult",
           "SolveRound", "SolveRecord", "SolveRows", "SolveTarget", "ObservedExpr",
           "Prediction", "VerifyResult", "ArmResult",
           "CalibrationRow", "ReportResult", "CenterLLC", "FiniteDiffRow", "PrincipalResult",
           "CoupledRecord", "HalfChi", "Mode", "PoolChi", "SECTIONS", "parse_result", "read_result", "result_json"]

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
records) are in :mod:`patternlang.runtime.sample_types`, the solve step's (:class:`SolveResult`,
its rounds and rows) in :mod:`patternlang.runtime.solve_types`, the base (:class:`StepResult`) in
:mod:`patternlang.runtime.result_base`; this module re-exports them.

Numbers that may not exist (NaN: a diverged chain, an undefined ratio) are ``float | None``: the
JSON writer turns NaN into ``null``.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from patternlang.runtime.result_base import Num, Record, StepResult
from patternlang.runtime.rundir import StepDir
from patternlang.runtime.schema import upgrade_result
from patternlang.runtime.solve_types import (ModeChoice, ObservedExpr, PerSampleRecord,
                                             PosteriorCheckRow, Prediction, PseudoInverse,
                                             Reproducibility, SolveDiagnostics, SolveRecord,
                                             SolveResult, SolveRound, SolveRows, SolveTarget,
                                             TargetOutcome, TargetResolved)
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
           "CoupledRecord", "HalfChi", "Mode", "PoolChi", "ModeChoice", "PerSampleRecord",
           "PosteriorCheckRow", "PseudoInverse", "Reproducibility", "SolveDiagnostics", "TargetOutcome",
           "TargetResolved", "SECTIONS", "parse_result", "read_result", "result_json"]

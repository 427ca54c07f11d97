"""What the solve step hands on: :class:`SolveResult` with its rounds (:class:`SolveRound`, each with
the record of its solve, :class:`SolveRecord`), the split-half and posterior checks, and the rows
and linear targets it solved on (:class:`SolveRows`, ``rows.json``, which verification reads
instead of rebuilding them). Re-exported by :mod:`patternlang.runtime.results_types`, where the
union of every step's result is.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from patternlang.runtime.result_base import Num, Record, StepResult

_Record = Record

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

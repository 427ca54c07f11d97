"""The steps of a plan, one model a kind (``train``, ``observe``, ``sample``, ``susceptibility``,
``solve``, ``verify``, ``report``), with the settings only one kind has (χ's finite-difference
check and coupled estimator, the regression arm, report formats), and :data:`Step`, their union
discriminated by ``kind``."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import AliasChoices, Field

from patternlang.plan.base import IRModel, SourceLoc
from patternlang.plan.observables import CheckpointRef, ObservableSpec, OnsetSpec
from patternlang.plan.settings import ComponentSpec, MixtureSpec, ModelSpec, OptimizerSpec, SamplerSpec
from patternlang.plan.targets import CheckedTarget, ConstraintSpec, TargetSpec

StepT = TypeVar("StepT", bound="StepBase")


class StepBase(IRModel):
    """What every step has: its id, the ids of the steps it reads, where the spec declares it."""

    id: str
    inputs: list[str] = Field(default_factory=list)
    loc: SourceLoc | None = None


class TrainStep(StepBase):
    kind: Literal["train"] = "train"
    model: ModelSpec
    components: list[ComponentSpec]
    mixture: MixtureSpec
    mixture_from: str | None = None  # id of a solve step whose weights replace ``mixture``
    steps: int
    batch: int = 32
    optimizer: OptimizerSpec = OptimizerSpec()
    checkpoints: list[int] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0])
    init_from: CheckpointRef | None = None
    track: list[ObservableSpec] = Field(default_factory=list)
    track_every: int = 0
    #: components only measured by ``track`` (``probe`` declarations, ``loss(c)`` of a component
    #: outside the mixture): built for the observables, never sampled from
    probes: list[ComponentSpec] = Field(default_factory=list, exclude_if=lambda v: not v)


class ObserveStep(StepBase):
    kind: Literal["observe"] = "observe"
    at: CheckpointRef
    observables: list[ObservableSpec]
    components: list[ComponentSpec]
    probe: int = 64
    seed: int = 0


class SampleStep(StepBase):
    kind: Literal["sample"] = "sample"
    at: CheckpointRef
    model: ModelSpec
    sampler: SamplerSpec
    components: list[ComponentSpec]
    mixture: MixtureSpec
    observables: list[ObservableSpec]
    probe: int = 64  # probe sequences per component, fixed once (seeded)
    per_sample: bool = False  # also per-sample chi (each probe sequence a component)
    # pool components: their probe is every example, in order, each with its own chi column
    pools: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    # set by the compiler under ``step = auto`` or ``draws = auto`` (left out of the JSON otherwise)
    targets: list[CheckedTarget] = Field(default_factory=list, exclude_if=lambda v: not v)
    # component susceptibilities: one column per predicted position of every probe sequence
    per_token: bool = Field(default=False, exclude_if=lambda v: not v)


class FiniteDiffSpec(IRModel):
    """A finite-difference check of chi: re-sample at (1 -/+ delta)·h +/- delta·e_k with shared
    seeds (paired central difference) for each component k (empty = every component). ``delta`` is
    the shift of the mixture, as the coupled estimator's; a plan written before it was renamed
    (``eps``) still reads."""

    delta: float = Field(0.05, validation_alias=AliasChoices("delta", "eps"))
    components: list[str] = Field(default_factory=list)


class CoupledSpec(IRModel):
    """``estimator = coupled(c, ..., delta=0.05, chains=N, draws=N)``: χ from paired central
    differences of posterior means at (1 ∓ δ)h ± δ·e_k with common random numbers
    (:mod:`patternlang.engine.coupled`, :mod:`patternlang.runtime.services.coupled`). ``components``
    empty: every component the downstream patternings can move; ``chains`` / ``draws`` 0: the
    sampler's."""

    delta: float = 0.05
    components: list[str] = Field(default_factory=list)
    chains: int = 0
    draws: int = 0


class SusceptibilityStep(StepBase):
    kind: Literal["susceptibility"] = "susceptibility"
    sample: str
    standardize: bool = True
    # left out of the JSON (and so of the hash) while unset: plans without a check are unchanged
    check: FiniteDiffSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    estimator: CoupledSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    # component susceptibilities (``parts = [...]``): part -> its restricted sample step (``sample``
    # is then the full sampling); rows dL[part] (patternlang.engine.component_chi)
    parts: dict[str, str] = Field(default_factory=dict, exclude_if=lambda v: not v)
    definition: str = Field(default="covariance", exclude_if=lambda v: v == "covariance")
    pca: str = Field(default="finest", exclude_if=lambda v: v == "finest")  # columns of the PCA


class SolveStep(StepBase):
    kind: Literal["solve"] = "solve"
    susceptibilities: list[str]
    mixture: MixtureSpec
    targets: list[TargetSpec]
    constraints: list[ConstraintSpec] = Field(default_factory=list)
    regularization: float = 1e-6
    rounds: int = 1
    round_steps: int = 0
    # per-sample patterning: the unknowns are the weights of every example of these pools
    samples: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    require_resolved: bool = False  # `require resolved`: an unresolved target row is an error


class RegressionArm(IRModel):
    """The black-box baseline arm ``regression(runs, steps=, model=)``: ``runs`` short proxy
    trainings at random mixtures inside the patterning's constraints, a cross-validated linear or
    log-linear model of each target vs the weights, and the same constrained problem solved on it.
    ``steps = 0`` in a spec: the proxy horizon that spends what sampling and χ spent (equal
    compute); the compiler resolves it, so a plan holds the horizon and ``compute``, the sequences
    the patterning and the proxies spend (:mod:`patternlang.compiler.cost`)."""

    runs: int
    steps: int = 0
    model: Literal["auto", "linear", "loglinear"] = "auto"
    compute: dict[str, dict[str, float]] | None = None


class VerifyStep(StepBase):
    kind: Literal["verify"] = "verify"
    solve: str
    train: str  # the train step whose settings the arms reuse
    arms: list[Literal["baseline", "patterned", "opposite", "control", "orthogonal"]]
    # ``random(K)`` and ``regression(K)`` arms; left out of the JSON (and the hash) while unset
    random: int = Field(default=0, exclude_if=lambda v: v == 0)
    regression: RegressionArm | None = Field(default=None, exclude_if=lambda v: v is None)
    seeds: list[int]
    steps: int
    start: Literal["scratch", "checkpoint"] = "scratch"
    start_at: CheckpointRef | None = None
    every: int = 25
    observables: list[ObservableSpec] = Field(default_factory=list)
    onset: list[OnsetSpec] = Field(default_factory=list)
    #: components the observables and onsets measure that the train step's mixture lacks
    probes: list[ComponentSpec] = Field(default_factory=list, exclude_if=lambda v: not v)
    #: ``model = ...``: every arm trains this model instead of the train step's (transfer)
    model: ModelSpec | None = Field(default=None, exclude_if=lambda v: v is None)


ReportFormat = Literal["md", "html", "json"]
DEFAULT_FORMATS: tuple[ReportFormat, ...] = ("md", "json")


class ReportStep(StepBase):
    kind: Literal["report"] = "report"
    formats: list[ReportFormat] = Field(default_factory=lambda: list(DEFAULT_FORMATS))


Step = Annotated[
    TrainStep | ObserveStep | SampleStep | SusceptibilityStep | SolveStep | VerifyStep | ReportStep,
    Field(discriminator="kind"),
]

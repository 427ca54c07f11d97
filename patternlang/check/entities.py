"""What the checker hands to the lowering: one record per declaration, values fully resolved.

Definitions (models, data, mixtures, samplers, observables) become IR value objects directly
(:class:`~patternlang.plan.ir.ModelSpec`, ...); the experiment's steps become the records below,
which :mod:`patternlang.compiler.lower` turns into plan steps with ids and inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from patternlang.plan.ir import (CheckpointRef, ComponentSpec, ConstraintSpec, CoupledSpec, FiniteDiffSpec,
                                 MixtureSpec, ModelSpec,
                                 ObservableSpec, OnsetSpec, OptimizerSpec, RegressionArm, SamplerSpec,
                                 SourceLoc, TargetSpec)


class SamplerDecl(SamplerSpec):
    """A checked sampler block: :class:`SamplerSpec` with ``nbeta = None`` for ``auto``, which the
    lowering resolves from the batch (:func:`patternlang.compiler.lower.resolve_sampler`)."""

    nbeta: float | None = None


@dataclass(frozen=True)
class MixtureE:
    spec: MixtureSpec
    components: list[ComponentSpec]


@dataclass(frozen=True)
class ObservedItem:
    spec: ObservableSpec
    shape: str
    text: str  # canonical text, for matching ``loss(markov)`` written again in a target


@dataclass
class TrainE:
    name: str
    loc: SourceLoc
    model: ModelSpec
    components: list[ComponentSpec]
    mixture: MixtureSpec
    steps: int
    batch: int
    optimizer: OptimizerSpec
    checkpoints: list[int]
    seeds: list[int]
    mixture_from: str | None = None  # patterning name whose solved weights replace the mixture
    init: CheckpointRef | None = None
    track: list[ObservableSpec] = field(default_factory=list)
    track_every: int = 0
    probes: list[ComponentSpec] = field(default_factory=list)  # measured by track, not trained on

    def saves(self, step: int) -> bool:
        return step == self.steps or step in self.checkpoints


@dataclass
class SusceptibilityE:
    name: str
    loc: SourceLoc
    at: CheckpointRef
    model: ModelSpec
    sampler: SamplerDecl
    observed: list[ObservedItem]
    components: list[ComponentSpec]
    mixture: MixtureSpec
    probe: int
    per_sample: bool
    standardize: bool
    check: FiniteDiffSpec | None = None
    pools: list[str] = field(default_factory=list)  # per_sample = [pool, ...]
    estimator: CoupledSpec | None = None  # estimator = coupled(...); None: covariance
    # component susceptibilities (``parts = [...]``): part name -> restriction selectors
    parts: dict[str, list[str]] = field(default_factory=dict)
    columns: str = "components"
    definition: str = "covariance"
    pca: str = "finest"

    def find(self, name: str) -> ObservedItem | None:
        for item in self.observed:
            if name in (item.spec.name, item.text):
                return item
        for item in self.observed:
            if item.text == f"{name}()":
                return item
        return None

    def names(self) -> list[str]:
        return [i.spec.name for i in self.observed]


@dataclass
class PatterningE:
    name: str
    loc: SourceLoc
    sources: list[str]
    mixture: MixtureSpec
    components: list[ComponentSpec]
    targets: list[TargetSpec]
    constraints: list[ConstraintSpec]
    rounds: int
    round_steps: int
    regularization: float
    samples: list[str] = field(default_factory=list)  # per-sample patterning over these pools
    require_resolved: bool = False


@dataclass
class VerifyE:
    name: str
    loc: SourceLoc
    train: str
    arms: list[str]
    seeds: list[int]
    steps: int
    start: str
    start_at: CheckpointRef | None
    every: int
    observables: list[ObservableSpec]
    onset: list[OnsetSpec]
    random: int = 0  # random(K) arms
    regression: RegressionArm | None = None  # the regression(K) arm
    probes: list[ComponentSpec] = field(default_factory=list)  # measured, not in the mixture
    model: ModelSpec | None = None  # ``model = ...``: the arms train another model (transfer)


@dataclass
class MeasureE:
    name: str
    loc: SourceLoc
    at: CheckpointRef
    observables: list[ObservableSpec]
    components: list[ComponentSpec]
    probe: int
    seed: int


@dataclass
class OutputE:
    loc: SourceLoc
    formats: list[str]


Step = TrainE | SusceptibilityE | PatterningE | VerifyE | MeasureE | OutputE


@dataclass
class Checked:
    """A checked program: the root spec's steps in source order, plus every factory it names."""

    spec: str
    steps: list[Step]
    factories: list[str]

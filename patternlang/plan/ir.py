"""The execution plan: a versioned, JSON-serialisable DAG of steps (pydantic models).

The front end lowers a checked spec to a :class:`Plan`; the runtime executes it. Nothing in here
refers to syntax: every value is concrete (numbers resolved, names resolved to specs), so a plan can
be written to ``plan.json``, read back and run without the source.

Steps and what they hand on (``inputs`` lists the ids of the steps a step reads):

* ``train``: train a model on a weighted mixture -> checkpoints (safetensors) + training curves.
* ``observe``: evaluate observables at checkpoints (point values, no sampling) -> values.
* ``sample``: localized SGLD at one or more checkpoints, observing at every draw -> per-chain
  online moments (float64) of observables and component losses, thinned traces, LLCs, diagnostics.
* ``susceptibility``: combine a sample step's moments -> chi (observables x components) with standard
  errors, principal directions.
* ``solve``: the constrained inverse problem over one or more chi -> new mixture weights + predictions.
* ``verify``: retrain under baseline / patterned / opposite / control mixtures over seeds -> curves,
  onset steps, realized vs predicted change.
* ``report``: results.json + report.md with figures.

Every step has a content hash over its settings and its inputs' hashes (:meth:`Plan.hashes`):
changing only a target changes the hash of ``solve`` and what follows, not of ``train``/``sample``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PLAN_VERSION = 1
# Bump when a patternlang release changes the numbers a step computes from the same settings
# (sampler, estimators, training loop): every step hash changes, so cached results of the old
# numerics are not re-used by the new version.
NUMERICS_VERSION = 2
# The same for sample steps with ``restrict`` only: 1 = the head-split SGLD step and the head-level
# observation cache (equal to the full pass within float reassociation, not bit for bit), so cached
# restricted samples of the older numerics are recomputed while every other hash stays unchanged.
RESTRICTED_NUMERICS_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------------
# Values resolved from the spec


class SourceLoc(_Model):
    """Where a plan element came from, so runtime errors can point back into the spec."""

    file: str
    line: int
    col: int


class Call(_Model):
    """A call of a registered primitive with fully resolved keyword arguments."""

    primitive: str
    args: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(_Model):
    """How to build the model. Exactly one of ``call`` / ``checkpoint`` / ``factory`` is the source;
    ``checkpoint`` may also be combined with ``call`` or ``factory`` (architecture + weights)."""

    name: str
    call: Call | None = None
    factory: str | None = None  # "package.module:function"
    factory_args: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None  # path to .safetensors (or a weights_only torch file)
    #: where the spec builds it, for errors raised in a factory (not in the hashes)
    loc: SourceLoc | None = Field(default=None, exclude_if=lambda v: v is None)


class ComponentSpec(_Model):
    """A named data component: a primitive call, a file of text/tokens, or a Python factory."""

    name: str
    call: Call | None = None
    path: str | None = None
    factory: str | None = None
    factory_args: dict[str, Any] = Field(default_factory=dict)
    #: the declaration, for errors raised in a factory (not in the hashes)
    loc: SourceLoc | None = Field(default=None, exclude_if=lambda v: v is None)


class MixtureSpec(_Model):
    """Mixture weights h_k by component name (normalised to sum to one by the front end)."""

    name: str
    weights: dict[str, float]


class OptimizerSpec(_Model):
    name: Literal["adamw", "sgd", "adam"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0
    schedule: Literal["constant", "cosine", "linear", "warmup_cosine"] = "constant"
    warmup: int = 0


class DrawsAuto(_Model):
    """``draws = auto(z=3, max=N, chunk=C)``: sample in chunks of ``chunk`` kept draws until
    every targeted χ row has a component with |z| >= ``z`` (no patterning downstream: until the
    LLC's λ̂/SE >= ``z``), at most ``SamplerSpec.draws`` (= ``max``) draws; see
    :mod:`patternlang.runtime.steps.sample.draws_auto`."""

    z: float = 3.0
    chunk: int


class SamplerSpec(_Model):
    """Localized tempered SGLD settings (devinterp's update with the minibatch mean loss), spelled as
    in the language; :func:`patternlang.runtime.services.sampling.sgld_config` is the one place they become
    the engine's :class:`~patternlang.engine.sampler.sgld.SGLDConfig` (``step`` -> ``step_size``,
    ``chains`` -> ``num_chains``, ``draws`` -> ``num_draws``; the defaults are the same)."""

    step: float | Literal["auto"]  # epsilon, or "auto": scanned at the center (runtime/steps/sample/step_auto.py)
    gamma: float  # localization strength; required, no silent 0
    nbeta: float  # concrete: the compiler resolves ``auto`` to B / log B of ``batch``
    chains: int = 4
    draws: int = 100
    burnin: int = 0
    thin: int = 1
    batch: int = 32
    restrict: list[str] = Field(default_factory=list)  # parameter globs or heads like "l1h3"
    seed: int = 0
    preconditioner: str = "none"  # the update rule: a name registered in engine/sampler/updates.py
    # ``draws = auto(z, max, chunk)``: ``draws`` is then the budget ``max``; left out of the JSON (and
    # the hash) while unset, so plans with a fixed number of draws are unchanged
    draws_auto: DrawsAuto | None = Field(default=None, exclude_if=lambda v: v is None)


class ObsExpr(_Model):
    """An observable as an expression tree over primitives.

    ``op`` is one of: ``prim`` (``name`` + ``args``), ``const`` (``value``), ``add``, ``sub``,
    ``mul``, ``div``, ``neg`` (``operands``), ``mean`` / ``sum`` (reduce a vector observable to a
    scalar), ``index`` (``index``: one coordinate of a vector observable), and ``ref`` (a declared
    observable of a susceptibility step: ``source`` = step id, ``name`` = observable name; only in
    targets).
    """

    op: str
    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    value: float | None = None
    operands: list[ObsExpr] = Field(default_factory=list)
    index: int | None = None
    source: str | None = None


class ObservableSpec(_Model):
    name: str
    expr: ObsExpr
    doc: str = ""


class Selection(_Model):
    """Choose trained seeds whose final checkpoint satisfies ``observable op threshold``."""

    observable: ObservableSpec
    op: Literal[">", ">=", "<", "<="]
    threshold: float
    limit: int | None = None


class CheckpointRef(_Model):
    """A checkpoint of a train step: ``step`` (None = final) of every selected seed."""

    train: str
    step: int | None = None
    select: Selection | None = None


def _unset(v: Any) -> bool:
    return v is None


class TargetSpec(_Model):
    """A target on a (linear) observable expression, or a step along a principal direction.

    ``raise``/``lower`` by ``amount``; ``reach`` ``value``; ``hold`` (change 0). ``expr`` is built from
    ``ref`` nodes; a relative target (``lower A relative to B``) is ``expr = A - B``.

    ``move``: a mixture step of signed length ``amount`` along the data vector of one principal
    mode of χ, chosen by index (``mode``) or as the mode that moves ``expr`` most (``mode`` None);
    its sign is fixed so that a positive amount raises ``expr`` (by index: the structure vector's
    largest loading). ``expr`` is unused (a constant) when the mode is given by index.
    """

    kind: Literal["raise", "lower", "reach", "hold", "move"]
    expr: ObsExpr
    label: str
    amount: float | None = None
    value: float | None = None
    weight: float = 1.0
    loc: SourceLoc | None = None
    # left out of the JSON (and the hash) while unset: plans without a move target are unchanged
    mode: int | None = Field(default=None, exclude_if=_unset)


class ConstraintSpec(_Model):
    """A convex constraint on the new weights h' (checked convex by the front end).

    * ``linear``: sum_k coeffs[k] * h'_k  (op)  rhs   (bounds, sums, ratios written linearly)
    * ``fixed``: h'_k = h_k for each component in ``components``
    * ``kl``: KL(h' || h) <= rhs
    * ``l2``: ||h' - h||_2 <= rhs
    """

    kind: Literal["linear", "fixed", "kl", "l2"]
    coeffs: dict[str, float] = Field(default_factory=dict)
    op: Literal["<=", ">=", "=="] = "<="
    rhs: float = 0.0
    components: list[str] = Field(default_factory=list)
    label: str = ""
    loc: SourceLoc | None = None


class OnsetSpec(_Model):
    """Structure formation threshold: first step at which ``observable op threshold``."""

    observable: ObservableSpec
    op: Literal[">", ">=", "<", "<="] = ">="
    threshold: float


# ----------------------------------------------------------------------------------------------
# Steps


StepT = TypeVar("StepT", bound="_Step")


class _Step(_Model):
    id: str
    inputs: list[str] = Field(default_factory=list)
    loc: SourceLoc | None = None


class TrainStep(_Step):
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


class ObserveStep(_Step):
    kind: Literal["observe"] = "observe"
    at: CheckpointRef
    observables: list[ObservableSpec]
    components: list[ComponentSpec]
    probe: int = 64
    seed: int = 0


class CheckedTarget(_Model):
    """A target of a patterning downstream of a sample step, whose χ row that step checks
    (``step = auto``'s plateau, ``draws = auto``'s stopping rule): the solve step, the
    susceptibility step whose rows it reads, and the target itself (raise, lower or reach)."""

    solve: str
    susceptibility: str
    target: TargetSpec


class SampleStep(_Step):
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


class FiniteDiffSpec(_Model):
    """A finite-difference check of chi: re-sample at (1 -/+ eps)·h +/- eps·e_k with shared seeds
    (paired central difference) for each component k (empty = every component)."""

    eps: float = 0.05
    components: list[str] = Field(default_factory=list)


class CoupledSpec(_Model):
    """``estimator = coupled(c, ..., delta=0.05, chains=N, draws=N)``: χ from paired central
    differences of posterior means at (1 ∓ δ)h ± δ·e_k with common random numbers
    (:mod:`patternlang.engine.coupled`, :mod:`patternlang.runtime.services.coupled`). ``components``
    empty: every component the downstream patternings can move; ``chains`` / ``draws`` 0: the
    sampler's."""

    delta: float = 0.05
    components: list[str] = Field(default_factory=list)
    chains: int = 0
    draws: int = 0


class SusceptibilityStep(_Step):
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


class SolveStep(_Step):
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


class RegressionArm(_Model):
    """The black-box baseline arm ``regression(runs, steps=, model=)``: ``runs`` short proxy
    trainings at random mixtures inside the patterning's constraints, a cross-validated linear or
    log-linear model of each target vs the weights, and the same constrained problem solved on it.
    ``steps = 0`` in a spec: the proxy horizon that spends what sampling and χ spent (equal
    compute); the compiler resolves it, so a plan holds the horizon and ``compute``, the sequences
    the patterning and the proxies spend (:mod:`patternlang.compiler.explain`)."""

    runs: int
    steps: int = 0
    model: Literal["auto", "linear", "loglinear"] = "auto"
    compute: dict[str, dict[str, float]] | None = None


class VerifyStep(_Step):
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


class ReportStep(_Step):
    kind: Literal["report"] = "report"
    formats: list[ReportFormat] = Field(default_factory=lambda: list(DEFAULT_FORMATS))


Step = Annotated[
    TrainStep | ObserveStep | SampleStep | SusceptibilityStep | SolveStep | VerifyStep | ReportStep,
    Field(discriminator="kind"),
]


class Plan(_Model):
    """The whole plan. ``steps`` are in a valid execution order (inputs before users)."""

    version: int = PLAN_VERSION
    spec: str  # path of the root spec
    seed: int = 0
    factories: list[str] = Field(default_factory=list)  # Python code the plan will import and run
    steps: list[Step]
    # content digests of the files and factory modules the steps name (compiler/fingerprints.py)
    fingerprints: dict[str, str] = Field(default_factory=dict)
    # run options that change numbers (observation precision, torch.compile), set by the runtime;
    # they enter the hash of sample steps (and so of everything downstream). Left out while empty.
    numeric_options: dict[str, str] = Field(default_factory=dict, exclude_if=lambda v: not v)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def step_as(self, step_id: str, kind: type[StepT]) -> StepT:
        """:meth:`step`, checked to be a ``kind`` (typed: ``plan.step_as(i, TrainStep).batch``)."""
        s = self.step(step_id)
        if not isinstance(s, kind):
            raise TypeError(f"step {step_id!r} is a {type(s).__name__}, not a {kind.__name__}")
        return s

    def hashes(self) -> dict[str, str]:
        """Content hash of every step: its settings (id and source location excluded) and its
        inputs' hashes, so equal work gets an equal key across runs and specs; also the version of
        the numeric code, the digests of the files a step names, and for the steps that sample the
        ``numeric_options`` (the observation precision and compiled forward act there)."""
        out: dict[str, str] = {}
        for s in self.steps:
            body = s.model_dump(mode="json", exclude={"id", "loc", "inputs"})
            body = _strip_locs(body)
            named = strings_in(body)
            payload = {"v": PLAN_VERSION, "numerics": NUMERICS_VERSION, "seed": self.seed,
                       "body": body, "inputs": [out[i] for i in s.inputs],
                       "contents": {k: v for k, v in sorted(self.fingerprints.items())
                                    if k in named}}
            if s.kind == "sample" and getattr(s, "sampler", None) is not None and s.sampler.restrict:
                payload["restricted_numerics"] = RESTRICTED_NUMERICS_VERSION
            if self.numeric_options and s.kind == "sample":
                payload["numeric_options"] = dict(sorted(self.numeric_options.items()))
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
            out[s.id] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)


def strings_in(value: Any) -> set[str]:
    """Every string inside a dumped step (file paths, factory references, ...)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {x for v in value.values() for x in strings_in(v)}
    if isinstance(value, list):
        return {x for v in value for x in strings_in(v)}
    return set()


def _strip_locs(value: Any) -> Any:
    """Drop source locations and labels' positions from a dumped step (they do not change work)."""
    if isinstance(value, dict):
        return {k: _strip_locs(v) for k, v in value.items() if k != "loc"}
    if isinstance(value, list):
        return [_strip_locs(v) for v in value]
    return value

"""What the sample and susceptibility steps hand on: :class:`SampleResult` and :class:`ChiResult`
with the records inside them, re-exported by :mod:`patternlang.runtime.results_types` (where the
other steps' results live and the union of all of them is).

The records some step writes as it goes (a step scan's points, the chunks of ``draws = auto``) are
:class:`~patternlang.runtime.result_base.Sparse`: a key their writer left out stays out of the JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from patternlang.runtime.result_base import Num, Record, Sparse, StepResult

# ----------------------------------------------------------------------------------------------
# sample


class CenterLLC(Record):
    """The sampler's outcome at one center w* (one selected checkpoint)."""

    label: str
    seed: int
    llc_mean: Num
    llc_se: Num
    llc_per_chain: list[Num]
    init_loss: float
    rhat: Num
    trend_ok: bool | None
    divergent_chains: list[int]
    warnings: list[str]
    selected_by: dict[str, float] = Field(default_factory=dict)
    ess: Num = None  # effective sample size of the draw losses, summed over chains (Geyer)
    publishable: bool | None = None  # split R-hat <= 1.01 and ESS >= 400 (docs/sampler.md)
    kept_chains: list[int] = Field(default_factory=list)  # the chains every estimate here uses


class TargetRowRecord(Record):
    """A targeted χ row ``cᵀ·nβχ`` per component with its SEs and movable-step |z|
    (:meth:`~patternlang.runtime.services.target_rows.TargetRow.to_dict`)."""

    label: str
    components: list[str]
    value: list[Num]
    se: list[Num]
    best_abs_z: Num


class LLCRow(Record):
    """An LLC as ``draws = auto`` judges it when no patterning targets a row: λ̂ and its SE."""

    label: str
    llc: Num
    llc_se: Num


class ScanPoint(Sparse):
    """One ε of a step scan (:func:`~patternlang.engine.sampler.step_scan.walk`): λ̂ there, whether
    it is stable (and why not), and with a patterning downstream the targeted rows. A point that
    was not run (burn-in too long) or diverged has no ``rhat``, ``ess`` (nor, not run, ``burnin``)."""

    step_size: float
    stable: bool
    reason: str | None
    llc: Num
    llc_se: Num
    rhat: Num = None
    ess: Num = None
    burnin: int | None = None
    rows: dict[str, TargetRowRecord] | None = None  # targeted χ rows by label


class ScanSettings(Sparse):
    """The scan's settings (:func:`~patternlang.engine.sampler.step_scan.scan_step_size`); scans
    saved before ``max_burnin``, ``max_points`` and ``chi_rows`` existed lack them."""

    max_step: float
    factor: float
    points: int
    draws: int
    burnin: int
    rel_tol: float
    max_burnin: int | None = None
    chains: int
    max_points: int | None = None
    chi_rows: bool | None = None


class StepScanRecord(Record):
    """``step = auto``: the scan (:meth:`~patternlang.engine.sampler.step_scan.StepScan.to_dict`),
    largest ε first; ``plateau`` the ε values of the plateau (None: none found, see ``warnings``)."""

    rows: list[ScanPoint]
    plateau: list[float] | None
    chosen: float
    warnings: list[str]
    settings: ScanSettings


class ChunkRecord(Sparse):
    """``draws = auto`` after one chunk (:meth:`~patternlang.engine.sampler.draws_rule.ChunkCheck.to_dict`):
    each row's best |z| so far (None: no finite z)."""

    draws: int
    best_abs_z: dict[str, Num]
    resolved: bool
    equilibrated: bool | None = None


DrawsRule = Literal["targets", "llc"]  # what draws = auto judges: the targeted χ rows, or λ̂/SE


class DrawsAutoRecord(Record):
    """``draws = auto(z, max, chunk)``: the rule (``targets``: the targeted χ rows; ``llc``: λ̂/SE),
    the draws it used, every chunk's check and the rows as last measured
    (:func:`~patternlang.runtime.steps.sample.draws_auto.run_chunks`)."""

    z: float
    max: int
    chunk: int
    rule: DrawsRule
    draws: int
    resolved: bool
    chunks: list[ChunkRecord]
    rows: list[TargetRowRecord | LLCRow]
    warnings: list[str]


class SampleResult(StepResult):
    """Localized SGLD at one or more centers. ``nbeta`` is the nβ the sampler ran with
    (the plan's, :meth:`StepContext.nbeta`), recorded for the reader; the runtime reads nβ from the
    plan."""

    kind: Literal["sample"] = "sample"
    nbeta: float
    centers: list[CenterLLC]
    llc_mean: Num
    llc_se: Num
    observables: list[str]  # observed coordinate names
    warnings: list[str]
    moments: list[str]  # per-center co-moment files in the step directory
    step_size: float | None = None  # the ε sampled at (the scan's choice under ``step = auto``)
    step_scan: StepScanRecord | None = None  # ``step = auto``
    draws: int | None = None  # kept draws per chain (under ``draws = auto``: those it used)
    draws_auto: DrawsAutoRecord | None = None  # ``draws = auto``


# ----------------------------------------------------------------------------------------------
# susceptibility


class Mode(Record):
    singular_value: float
    explained: Num
    observables: dict[str, float]
    components: dict[str, float]


class PrincipalResult(Record):
    standardized: bool
    singular_values: list[float]
    variance_explained: list[Num]
    modes: list[Mode]


class FiniteDiffRow(Record):
    """χ beside its paired finite difference for one (observable, component)."""

    observable: str
    component: str
    chi: float
    chi_se: Num
    fd: Num
    fd_se: Num
    ratio: Num
    z: Num
    sign_agrees: bool
    delta: float  # the shift of the mixture (schema 2: eps)
    central: bool


class PoolChi(Record):
    """Where the per-example χ of ``per_sample = [pool, ...]`` lies: ``file`` in the step directory
    (``chi``, ``se`` [coordinates, examples], ``names`` ``pool[i]``), examples per pool."""

    file: str
    pools: dict[str, int]


class HalfChi(Record):
    """χ from one half of the chains (even or odd ids): an independent estimate for the
    split-half reproducibility of the solve."""

    chi: list[list[Num]]
    chi_se: list[list[Num]]


class CoupledRound(Record):
    """One round of the coupled estimator under ``draws = auto``: its chains, each row's best |z|."""

    chains: int
    best_abs_z: dict[str, Num]


class CoupledAuto(Record):
    """The coupled estimator grown by chains (:func:`~patternlang.runtime.steps.susceptibility.coupled_chi.apply_coupled`):
    the z it asks for, the most chains it may use, and its rounds."""

    z: float
    max_chains: int
    rounds: list[CoupledRound]


class CoupledRecord(Record):
    """The coupled estimator's details (:mod:`patternlang.engine.coupled`): which columns it
    estimated (the others are the covariance estimate), its two standard errors, the drift z per
    entry, and the covariance χ beside it."""

    delta: float
    components: list[str]
    chains: int
    draws: int
    central: list[bool]
    se_between: list[list[Num]]
    se_within: list[list[Num]]
    drift_z: list[list[Num]]
    chi_covariance: list[list[Num]]
    chi_covariance_se: list[list[Num]]
    auto: CoupledAuto | None = None  # under the sampler's draws = auto
    # χ from each chain alone [C][observables][components] (null where a column is not coupled):
    # the replicates the movable-step test reads its covariance from
    per_chain: list[list[list[Num]]] | None = None


class ComponentPCARecord(Record):
    """The standardized PCA of the parts' rows (:meth:`~patternlang.engine.component_chi.ComponentPCA.to_dict`):
    the first PCs' singular values, explained variance and loadings per part, over ``columns``."""

    singular_values: list[Num]
    explained: list[Num]
    loadings: list[dict[str, Num]]  # [PC] part -> loading
    columns: int


class ComponentRecord(Record):
    """Component susceptibilities (``parts = [...]``,
    :mod:`~patternlang.runtime.steps.susceptibility.component`): the definition, each part's
    weights, the PCA, each data component's mean score per PC, the arrays' file and the figure."""

    definition: str
    parts: dict[str, list[str]]  # part -> the weight patterns its sampler was restricted to
    columns: int
    file: str
    figure: str | None  # in the step directory (None: not drawn)
    pca: ComponentPCARecord
    score_by_component: dict[str, list[Num]]


class ChiResult(StepResult):
    """χ [observables × components] with errors, posterior means, principal directions."""

    kind: Literal["susceptibility"] = "susceptibility"
    nbeta: float
    observables: list[str]  # coordinate names (``ih[l1h0]``)
    observable_of: list[str]  # the declared observable of each coordinate (``ih``)
    components: list[str]
    observable_exprs: dict[str, dict[str, Any]]  # declared observable -> its ObsExpr as JSON
    chi: list[list[Num]]
    chi_se: list[list[Num]]
    mu: list[Num]
    principal: PrincipalResult
    centers: int
    draws: int
    chains: int
    chi_explicit: list[list[Num]] | None = None  # only where an observable reads the mixture
    finite_difference: list[FiniteDiffRow] | None = None
    # posterior sds of the coordinates and of L_k − L (the standardization of the principal
    # directions, which a `move along mode(...)` target re-derives)
    sd_obs: list[Num] | None = None
    sd_comp: list[Num] | None = None
    standardize: bool = True
    per_sample: PoolChi | None = None  # per_sample = [pool, ...]: the per-example χ file
    chi_z: list[list[Num]] | None = None  # χ / SE per entry
    chi_ess: list[list[Num]] | None = None  # effective sample size per entry (engine/chi.py)
    warnings: list[str] = Field(default_factory=list)  # finite-difference checks contradicting χ
    estimator: Literal["covariance", "coupled"] = "covariance"
    coupled: CoupledRecord | None = None
    halves: list[HalfChi] | None = None  # the two halves of the chains (split-half solve)
    # χ with each chain's linear trend over its draws removed (covariance estimator: drift check)
    chi_detrended: list[list[Num]] | None = None
    component: ComponentRecord | None = None  # component susceptibilities (parts = [...])

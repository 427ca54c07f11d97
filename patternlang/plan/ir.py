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

The IR is split by concept; this module is the plan container and its hashing, and re-exports every
public name of the others, so ``from patternlang.plan.ir import X`` is the one import for all of it:

* :mod:`patternlang.plan.base`: the frozen model every element is, source locations;
* :mod:`patternlang.plan.settings`: model, data components, mixture, optimizer, sampler;
* :mod:`patternlang.plan.observables`: observable expressions, checkpoint selection, onsets;
* :mod:`patternlang.plan.targets`: targets, constraints, the targets a sample step checks;
* :mod:`patternlang.plan.steps`: the step kinds and their union :data:`Step`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from patternlang.plan.base import IRModel, SourceLoc
from patternlang.plan.observables import CheckpointRef, ObservableSpec, ObsExpr, OnsetSpec, Selection
from patternlang.plan.settings import (Call, ComponentSpec, DrawsAuto, MixtureSpec, ModelSpec, OptimizerSpec,
                                       SamplerSpec)
from patternlang.plan.steps import (DEFAULT_FORMATS, CoupledSpec, FiniteDiffSpec, ObserveStep, RegressionArm,
                                    ReportFormat, ReportStep, SampleStep, SolveStep, Step, StepBase, StepT,
                                    SusceptibilityStep, TrainStep, VerifyStep)
from patternlang.plan.targets import CheckedTarget, ConstraintSpec, TargetSpec

# every public name of the IR, so that ``from patternlang.plan.ir import X`` keeps working
__all__ = [
    "DEFAULT_FORMATS", "NUMERICS_VERSION", "PLAN_VERSION", "RESTRICTED_NUMERICS_VERSION", "Call",
    "CheckedTarget", "CheckpointRef", "ComponentSpec", "ConstraintSpec", "CoupledSpec", "DrawsAuto",
    "FiniteDiffSpec", "IRModel", "MixtureSpec", "ModelSpec", "ObsExpr", "ObservableSpec", "ObserveStep",
    "OnsetSpec", "OptimizerSpec", "Plan", "RegressionArm", "ReportFormat", "ReportStep", "SampleStep",
    "SamplerSpec", "Selection", "SolveStep", "SourceLoc", "Step", "StepBase", "StepT", "SusceptibilityStep",
    "TargetSpec", "TrainStep", "VerifyStep", "strings_in",
]

PLAN_VERSION = 1
# Bump when a patternlang release changes the numbers a step computes from the same settings
# (sampler, estimators, training loop): every step hash changes, so cached results of the old
# numerics are not re-used by the new version.
NUMERICS_VERSION = 2
# The same for sample steps with ``restrict`` only: 1 = the head-split SGLD step and the head-level
# observation cache (equal to the full pass within float reassociation, not bit for bit), so cached
# restricted samples of the older numerics are recomputed while every other hash stays unchanged.
RESTRICTED_NUMERICS_VERSION = 1


class Plan(IRModel):
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

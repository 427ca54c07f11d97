"""Inputs and outputs of the inverse solve (:func:`patternlang.engine.solve.solve_weights`).

All arrays are float64 numpy; :meth:`Solution.to_dict` gives a JSON-able dict (names for every
entry, ``None`` where a quantity does not exist, e.g. weights of an infeasible program).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

TargetKind = Literal["raise", "lower", "reach", "hold", "move"]


@dataclass(frozen=True)
class LinearTarget:
    """A target on a linear functional ``coeffs @ mu`` of the observable coordinates ``mu``.

    ``coeffs`` has one entry per observable coordinate (row of the response): ``e_m`` for one
    coordinate, ``1/H`` over H heads for a mean, ``e_A - e_B`` for "A relative to B".

    Desired change ``d``: ``raise`` -> ``+amount``, ``lower`` -> ``-amount``, ``hold`` -> ``0``,
    ``reach`` -> ``value - coeffs @ mu0`` (needs the current values ``mu0``). ``weight`` scales the
    target's squared error in the objective.

    ``move``: a mixture step of signed length ``amount`` along ``direction`` (a unit, sum-zero
    vector over the components, see :mod:`patternlang.engine.solve.direction`); ``coeffs`` are
    then unused (zeros).
    """

    coeffs: np.ndarray
    kind: TargetKind
    amount: float | None = None
    value: float | None = None
    weight: float = 1.0
    label: str = ""
    direction: np.ndarray | None = None


@dataclass(frozen=True)
class TargetOutcome:
    """How the chosen step serves one target. ``achieved_fraction = predicted / desired`` (``None``
    for ``hold`` or a zero desired change); ``unreachable``: no data direction moves it.

    For a ``move`` target ``desired`` is the requested step length ``A``, ``predicted`` the realized
    step's length along the requested direction, and ``angle_deg`` the angle between the requested
    and the realized step."""

    label: str
    kind: str
    desired: float
    predicted: float | None
    se: float | None
    achieved_fraction: float | None
    pinv_predicted: float
    unreachable: bool
    angle_deg: float | None = None


@dataclass(frozen=True)
class PinvSolution:
    """The unconstrained minimum-norm solution ``dh = Q pinv(W^1/2 T R Q) W^1/2 d`` beside the
    constrained one (the paper's ``chi^+ dmu* / nbeta`` form). ``nonnegative``: whether
    ``h0 + dh`` is still a valid mixture (it ignores every constraint but ``sum dh = 0``)."""

    delta_h: np.ndarray
    weights: np.ndarray
    nonnegative: bool
    predicted_change: np.ndarray
    predicted_se: np.ndarray | None


@dataclass
class SolveDiagnostics:
    """Why the solution looks the way it does.

    * ``singular_values``: of the target response ``T R Q`` on the sum-zero subspace; ``rank`` how
      many are non-negligible, ``condition`` = largest / smallest non-negligible one.
    * ``unreachable``: labels of targets no mixture change moves.
    * ``conflicting``: a minimal set of user constraints that cannot hold together (infeasible only).
    * ``active_constraints``: user constraints at their boundary; ``trust_region_binding``: KL / L2
      trust regions whose radius the step uses up; ``bounds_active``: components at weight 0.
    * ``messages``: the same, as sentences for a person.
    """

    singular_values: np.ndarray
    rank: int
    condition: float | None
    unreachable: list[str] = field(default_factory=list)
    conflicting: list[str] = field(default_factory=list)
    active_constraints: list[str] = field(default_factory=list)
    trust_region_binding: list[str] = field(default_factory=list)
    bounds_active: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class Solution:
    """Result of the inverse solve. ``status``: ``optimal``, ``optimal_inaccurate``,
    ``infeasible`` or ``solver_error``; the solution fields are ``None`` unless it is optimal.

    ``predicted_change[m]`` is the first-order change of the *posterior expectation* of observable
    coordinate ``m`` under the step ``delta_h`` (``R @ delta_h``), ``predicted_se`` its standard error
    from the standard errors of ``R``. It is not a forecast of training-time change; verification
    measures the calibration (realized / predicted)."""

    status: str
    step: str
    comp_names: list[str]
    obs_names: list[str]
    h0: np.ndarray
    weights: np.ndarray | None
    delta_h: np.ndarray | None
    predicted_change: np.ndarray | None
    predicted_se: np.ndarray | None
    targets: list[TargetOutcome]
    pinv: PinvSolution
    diagnostics: SolveDiagnostics
    objective: float | None
    regularization: float
    regularization_effective: float
    solver: str

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "optimal_inaccurate")

    def weights_by_name(self) -> dict[str, float] | None:
        """The new weights by component name (``None`` when the program was infeasible)."""
        return None if self.weights is None else _named(self.comp_names, self.weights)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view, every vector keyed by component or observable name."""
        c, o = self.comp_names, self.obs_names
        d = self.diagnostics
        return {
            "status": self.status,
            "step": self.step,
            "solver": self.solver,
            "components": list(c),
            "observables": list(o),
            "h0": _named(c, self.h0),
            "weights": _named(c, self.weights),
            "delta_h": _named(c, self.delta_h),
            "predicted": _predictions(o, self.predicted_change, self.predicted_se),
            "targets": [_outcome(t) for t in self.targets],
            "pinv": {
                "delta_h": _named(c, self.pinv.delta_h),
                "weights": _named(c, self.pinv.weights),
                "nonnegative": self.pinv.nonnegative,
                "predicted": _predictions(o, self.pinv.predicted_change, self.pinv.predicted_se),
            },
            "diagnostics": {
                "singular_values": [float(s) for s in d.singular_values],
                "rank": d.rank,
                "condition": _num(d.condition),
                "unreachable": list(d.unreachable),
                "conflicting": list(d.conflicting),
                "active_constraints": list(d.active_constraints),
                "trust_region_binding": list(d.trust_region_binding),
                "bounds_active": list(d.bounds_active),
                "messages": list(d.messages),
            },
            "objective": _num(self.objective),
            "regularization": self.regularization,
            "regularization_effective": self.regularization_effective,
        }


def _num(x: float | None) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return float(x)


def _named(names: list[str], values: np.ndarray | None) -> dict[str, float] | None:
    if values is None:
        return None
    return {n: float(v) for n, v in zip(names, values)}


def _predictions(names: list[str], change: np.ndarray | None,
                 se: np.ndarray | None) -> dict[str, dict[str, float | None]] | None:
    if change is None:
        return None
    return {n: {"change": float(change[i]), "se": None if se is None else float(se[i])}
            for i, n in enumerate(names)}


def _outcome(t: TargetOutcome) -> dict[str, Any]:
    return {"label": t.label, "kind": t.kind, "desired": t.desired, "predicted": _num(t.predicted),
            "se": _num(t.se), "achieved_fraction": _num(t.achieved_fraction),
            "pinv_predicted": _num(t.pinv_predicted), "unreachable": t.unreachable,
            "angle_deg": _num(t.angle_deg)}

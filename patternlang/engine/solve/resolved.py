"""Is a target's χ row resolved? z-scores of the target response and the warnings they raise.

A target is a linear functional c of the observable coordinates; its response to the mixture is the
row ``a = cᵀR`` (R = nβ·χ, observables x components) with standard errors
``se_a = sqrt((c²)ᵀ se_R²)`` (entries taken as independent). Its z-scores are ``a / se_a`` per
component, and the target is *resolved* when some component has |z| >= ``RESOLVED_Z`` (3): at
least one data direction moves it by more than the noise of its estimate. An unresolved target
means the solver's weights for it come from noise: the solution carries a warning naming the target
and the remedy (with the factor of draws that would resolve it if χ stayed put), and
``require resolved`` in the patterning makes it an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RESOLVED_Z = 3.0
REMEDY = ("more draws or chains (z grows as the square root of chains x draws: (3 / largest |z|)^2 "
          "times the draws), or a later checkpoint where the observable responds more strongly")


@dataclass
class TargetResolution:
    """z per component of one target's response row and whether any |z| reaches RESOLVED_Z."""

    label: str
    z: dict[str, float | None]
    max_abs_z: float
    resolved: bool

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "z": self.z, "max_abs_z": _num(self.max_abs_z), "resolved": self.resolved}


def target_resolution(coeffs: list[np.ndarray], labels: list[str], response: np.ndarray,
                      response_se: np.ndarray, comp_names: list[str],
                      z_min: float = RESOLVED_Z) -> list[TargetResolution]:
    """One :class:`TargetResolution` per target (coefficient vector over the rows of ``response``)."""
    out = []
    for c, label in zip(coeffs, labels):
        row, se = target_response(c, response, response_se)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, row / se, np.nan)
        finite = np.abs(z[np.isfinite(z)])
        top = float(finite.max()) if finite.size else float("nan")
        out.append(TargetResolution(label, {k: _num(v) for k, v in zip(comp_names, z)}, top,
                                    bool(finite.size and top >= z_min)))
    return out


def target_response(coeffs: np.ndarray, response: np.ndarray,
                    response_se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A target's response row ``a = cᵀR`` per component and its standard errors
    ``sqrt((c²)ᵀ se_R²)`` (the entries of R taken as independent)."""
    c = np.asarray(coeffs, dtype=np.float64)
    return c @ np.asarray(response, np.float64), np.sqrt((c ** 2) @ (np.asarray(response_se, np.float64) ** 2))


def unresolved_warnings(resolutions: list[TargetResolution], z_min: float = RESOLVED_Z) -> list[str]:
    """One warning per unresolved target, naming it, its largest |z| and the remedy."""
    return [f"target '{r.label}' is not resolved: its chi row has no component with |z| >= {z_min:g} "
            f"(largest |z| = {r.max_abs_z:.2g}), so its weights come from noise"
            + (f"; about {(z_min / r.max_abs_z) ** 2:.1f}x the draws would resolve it if chi stays put"
               if r.max_abs_z > 0 else "") + f". Remedy: {REMEDY}"
            for r in resolutions if not r.resolved]


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None

"""Patterning along a principal direction of χ (``move along mode(...) by A``).

A principal mode of χ (:func:`patternlang.engine.chi.principal_directions`) pairs a *structure*
vector ``u`` (loadings on observables) with a *data* vector ``v`` (loadings on components) and a gain
``s``. In the standardized coordinates the SVD is taken in (φ̃_i = φ_i / sd φ_i and, for the data,
Δh̃_k = sd(L_k − L)·Δh_k) moving the mixture by ``Δh̃ = v`` moves the observables by ``nβ·s·u``.
The mixture step that does this is therefore ``Δh_k ∝ v_k / sd(L_k − L)``; because χ·h = 0 (columns
of χ are differences from the mixture) adding any multiple of ``h`` leaves its effect unchanged, so
the step is made sum-zero by ``Δh ← Δh − h·ΣΔh`` (the change a renormalized mixture ``h + εv`` makes)
and scaled to unit length. That is the *requested direction* ``e``; ``move ... by A`` requests
``Δh = A·e``.

Choosing the mode:

* by index (``mode(0)``): the sign is the one :func:`principal_directions` fixes — the structure
  vector's largest loading is positive, so a positive ``A`` raises the observable it loads on most;
* by an observable expression ``T`` (``mode(mean(ih))``): every mode's standardized gain on ``T`` is
  ``g_r = s_r·|ℓ_r|`` with ``ℓ_r`` the cosine between ``T`` (in standardized coordinates,
  ``T_i·sd φ_i``) and ``u_r``; the mode with the largest ``g_r`` is chosen and signed so that a positive
  ``A`` raises ``T`` (``sign ℓ_r``).

How the step is solved (see :mod:`patternlang.engine.solve.solver`): with a move target, every target
is measured in units of the data step, ``||Δh − A·e||²`` for the move and ``(â_t·Δh − d_t/|a_t|)²``
for an observable target with response row ``a_t`` (``â_t`` its unit vector), so a ``hold`` penalizes
the part of the step that moves what it holds. Under the constraints and trust region the solver
returns the feasible step closest to the requested one (a projection, when the move is the only
target); :func:`angle_degrees` reports how far its direction turned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from patternlang.engine.chi import principal_of_matrix, standardize_chi
from patternlang.errors import PatRuntimeError

#: modes whose gain is below this fraction of the largest are numerically zero (they do not move
#: anything: at most K − 1 modes of a K-component χ have a gain)
ZERO_GAIN_RTOL = 1e-9


@dataclass(frozen=True)
class ModeChoice:
    """The requested unit step of a move target and why that mode was chosen.

    ``direction``: unit, sum-zero mixture step over the components; ``index``: the mode;
    ``singular_value``: its gain; ``loading``: cosine between the selecting expression and the
    structure vector (``None`` when chosen by index); ``gains``: every mode's standardized gain on the
    expression (empty when chosen by index)."""

    index: int
    direction: np.ndarray
    singular_value: float
    loading: float | None = None
    gains: list[float] = field(default_factory=list)
    structure: dict[str, float] = field(default_factory=dict)


def mode_direction(chi: np.ndarray, sd_obs: np.ndarray, sd_comp: np.ndarray, h0: np.ndarray,
                   obs_names: list[str], comp_names: list[str], *, standardize: bool = True,
                   index: int | None = None, coeffs: np.ndarray | None = None,
                   step: str = "solve") -> ModeChoice:
    """The requested direction of ``move along mode(index)`` or ``mode(coeffs · φ)`` (module doc).

    Args:
        chi: χ (observable coordinates x components), the matrix the principal directions are of.
        sd_obs, sd_comp: posterior standard deviations of the observables and of ``L_k − L``.
        h0: current mixture weights.
        standardize: take the SVD of the standardized χ (the susceptibility's setting).
        index: the mode, 0-based (exclusive with ``coeffs``).
        coeffs: a linear functional of the observable coordinates selecting the mode.
    """
    sd_o = np.asarray(sd_obs, float) if standardize else np.ones(chi.shape[0])
    sd_c = np.asarray(sd_comp, float) if standardize else np.ones(chi.shape[1])
    X = standardize_chi(chi, sd_o, sd_c) if standardize else np.asarray(chi, float)
    p = principal_of_matrix(X, obs_names, comp_names, standardize)
    s = p.singular_values
    live = s > ZERO_GAIN_RTOL * (s[0] if s.size else 0.0)
    sign, loading, gains = 1.0, None, []
    if index is None:
        if coeffs is None:
            raise ValueError("give a mode index or selecting coefficients")
        t = np.asarray(coeffs, float) * np.where(sd_o > 0, sd_o, 0.0)
        norm = float(np.linalg.norm(t))
        cos = p.structure @ t / norm if norm > 0 else np.zeros(len(s))
        gains = [float(g) for g in np.where(live, s * np.abs(cos), 0.0)]
        if not gains or max(gains) <= 0:
            raise PatRuntimeError(step, "no principal mode of chi moves the expression that "
                                  "selects it (its gain is 0 on every mode)",
                                  "choose the mode by index, or observe what the expression reads")
        index = int(np.argmax(gains))
        loading = float(cos[index])
        sign = 1.0 if loading >= 0 else -1.0
    if not 0 <= index < len(s) or not live[index]:
        raise PatRuntimeError(step, f"mode {index} does not move the mixture (chi has "
                              f"{int(live.sum())} modes with a nonzero gain)",
                              f"use a mode between 0 and {int(live.sum()) - 1}")
    return ModeChoice(index, sign * data_step(p.data[index], sd_c, h0), float(s[index]), loading,
                      gains, dict(zip(obs_names, map(float, sign * p.structure[index]))))


def data_step(v: np.ndarray, sd_comp: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """The unit sum-zero mixture step whose effect is the standardized data vector ``v``:
    ``Δh ∝ v / sd − h0·Σ(v / sd)`` (components with zero loss variance get 0)."""
    sd = np.where(np.asarray(sd_comp) > 0, sd_comp, np.inf)
    u = np.asarray(v, float) / sd
    u = u - np.asarray(h0, float) * u.sum()
    n = float(np.linalg.norm(u))
    return u / n if n > 0 else u


def angle_degrees(a: np.ndarray, b: np.ndarray) -> float | None:
    """The angle between two steps in degrees (None if either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return None
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))))


def step_system(a: np.ndarray, d: np.ndarray, w: np.ndarray, kinds: list[str],
                directions: list[np.ndarray | None], amounts: np.ndarray, q: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The least-squares system ``Σ_rows w (a·Δh − d)²`` of a patterning with move targets, in
    units of the data step (module docstring): an observable target's row is divided by its
    response norm on the sum-zero subspace (``q``), a move target becomes ``K`` identity rows with
    right-hand side ``A·e``. Returns ``(a, d, w)`` of the stacked system."""
    k = a.shape[1]
    rows, rhs, wts = [], [], []
    for i, kind in enumerate(kinds):
        if kind == "move":
            e = directions[i]
            assert e is not None
            rows.append(np.eye(k))
            rhs.append(amounts[i] * e)
            wts.append(np.full(k, w[i]))
            continue
        n = float(np.linalg.norm(a[i] @ q)) if q.shape[1] else 0.0
        rows.append((a[i] / n if n > 0 else a[i] * 0.0)[None, :])
        rhs.append(np.array([d[i] / n if n > 0 else 0.0]))
        wts.append(np.array([w[i]]))
    return np.vstack(rows), np.concatenate(rhs), np.concatenate(wts)

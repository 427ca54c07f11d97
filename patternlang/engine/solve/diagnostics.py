"""Diagnostics of the inverse solve: why a target cannot be reached, which constraints conflict,
which constraints hold the optimum back, and how uncertain the predictions are.

Everything here is plain linear algebra on numpy arrays except :func:`conflicting_constraints`,
which re-solves feasibility programs (a *deletion filter*).

Notation: ``A = T @ R`` is the target-response matrix (targets x components): row ``t`` is how the
``t``-th target functional moves per unit change of each mixture weight. Mixture changes live on the
sum-zero subspace ``{dh : sum dh = 0}``, spanned by the columns of ``Q`` (:func:`sum_zero_basis`), so
the response that matters is ``A @ Q``.
"""

from __future__ import annotations

import numpy as np

from patternlang.engine.solve.program import Group, is_feasible, sum_zero_basis
from patternlang.plan.ir import ConstraintSpec

#: a target whose response row is below this fraction of the largest singular value of ``R @ Q``
#: (all observables) is treated as not moved by any data direction
UNREACHABLE_RTOL = 1e-6
#: a user constraint with slack below ``ACTIVE_RTOL * max(1, |rhs|)`` is active at the optimum
ACTIVE_RTOL = 1e-5
#: a trust region (KL / L2) counts as binding when the step uses this fraction of its radius
TRUST_BINDING_FRACTION = 0.999
#: a mixture weight below this is at its lower bound 0
BOUND_ATOL = 1e-6


def pinv_step(a: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares mixture change: ``dh = Q pinv(W^1/2 A Q) W^1/2 d``.

    With equal target weights this is the paper's ``dh = chi^+ dmu* / nbeta`` restricted to mixture
    changes that keep the weights summing to one; it ignores ``h' >= 0`` and every user
    constraint, and is the limit of the program as the regularization goes to zero."""
    q = sum_zero_basis(a.shape[1])
    sw = np.sqrt(w)
    if a.shape[0] == 0 or q.shape[1] == 0:
        return np.zeros(a.shape[1])
    return q @ (np.linalg.pinv(sw[:, None] * (a @ q)) @ (sw * d))


def target_spectrum(a: np.ndarray) -> np.ndarray:
    """Singular values of the target response on the sum-zero subspace, ``svd(A @ Q)``.

    ``len`` is ``min(n_targets, K-1)``; a (near-)zero singular value is a combination of targets no
    mixture change moves; ``s_max / s_min`` is how much a unit of target error is amplified."""
    q = sum_zero_basis(a.shape[1])
    if a.size == 0 or q.shape[1] == 0:
        return np.zeros(0)
    return np.linalg.svd(a @ q, compute_uv=False)


def response_scale(response: np.ndarray) -> float:
    """Largest singular value of the full response ``R @ Q`` (every observable coordinate)."""
    q = sum_zero_basis(response.shape[1])
    if response.size == 0 or q.shape[1] == 0:
        return 0.0
    return float(np.linalg.norm(response @ q, 2))


def unreachable_targets(a: np.ndarray, scale: float) -> np.ndarray:
    """Boolean per target: True when its response row on the sum-zero subspace is (near) zero,
    i.e. no data direction moves it. ``scale`` is :func:`response_scale` of the full response; if
    the whole response is zero every target is unreachable."""
    q = sum_zero_basis(a.shape[1])
    norms = np.linalg.norm(a @ q, axis=1) if q.shape[1] else np.zeros(a.shape[0])
    return norms <= UNREACHABLE_RTOL * scale if scale > 0 else np.ones(a.shape[0], dtype=bool)


def numerical_rank(s: np.ndarray) -> int:
    """Number of singular values above ``UNREACHABLE_RTOL`` of the largest."""
    if s.size == 0 or s[0] <= 0:
        return 0
    return int(np.sum(s > UNREACHABLE_RTOL * s[0]))


def propagate_se(coeffs: np.ndarray, response_se: np.ndarray, dh: np.ndarray) -> np.ndarray:
    """Standard error of ``coeffs @ R @ dh`` when the entries of ``R`` are independent with
    standard errors ``response_se`` (``dh`` held fixed):
    ``var_t = sum_{m,k} coeffs[t,m]^2 se[m,k]^2 dh[k]^2``.

    ``coeffs`` is ``(n, M)``; pass the identity for the change of every observable coordinate. The
    solution's own dependence on ``R`` (re-solving under a perturbed ``R``) is not included."""
    var = (coeffs**2) @ (response_se**2) @ (dh**2)
    return np.sqrt(var)


def active_groups(groups: list[Group], h: np.ndarray) -> tuple[list[str], list[str]]:
    """User constraints active at ``h'``: (linear/fixed labels at their boundary, trust-region labels
    binding). Equalities and ``fixed`` are always active."""
    active: list[str] = []
    trust: list[str] = []
    for g in groups:
        if g.kind in ("kl", "l2"):
            radius = g.rhs
            if radius <= 0 or g.value(h) >= TRUST_BINDING_FRACTION * radius:
                trust.append(g.label)
        elif g.kind == "fixed" or g.slack(h) <= ACTIVE_RTOL * max(1.0, abs(g.rhs)):
            active.append(g.label)
    return active, trust


def bounds_active(h: np.ndarray, comp_names: list[str]) -> list[str]:
    """Components whose new weight sits at the lower bound 0 of the simplex."""
    return [n for n, x in zip(comp_names, h) if x <= BOUND_ATOL]


def conflicting_constraints(h0: np.ndarray, specs: list[ConstraintSpec], labels: list[str],
                            comp_names: list[str], step: str) -> list[str]:
    """A minimal conflicting subset of the user constraints, by the deletion filter.

    The simplex is always part of the system. Walk the constraints once: drop each one whose
    removal leaves the rest infeasible (it is not needed for the conflict); keep it otherwise. The
    kept set is infeasible, and removing any single member makes it feasible (an irreducible
    infeasible subsystem). Returns labels; empty when the user constraints are jointly feasible."""
    keep = list(range(len(specs)))
    if is_feasible(h0, specs, comp_names, keep, step):
        return []
    for i in range(len(specs)):
        trial = [j for j in keep if j != i]
        if not is_feasible(h0, specs, comp_names, trial, step):
            keep = trial
    return [labels[i] for i in keep]

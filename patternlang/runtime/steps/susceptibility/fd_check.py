"""The finite-difference check of a susceptibility step (``check = finite_difference(...)``).

Linear response says that moving the mixture toward component k, h' = (1 − ε)·h + ε·e_k, moves each
posterior mean by Δ⟨φ⟩ ≈ ε·nβ·χ_{φ,k}. This re-samples the sample step's localized posterior at
(1 ∓ ε)·h ± ε·e_k with common random numbers — the coupled estimator's paired runs at δ = ε
(:mod:`patternlang.runtime.services.coupled`) — and reports χ_fd = Δ⟨φ⟩ / (2ε·nβ) beside the
covariance estimate χ for every observed coordinate (and the mean over heads of per-head
observables).

Costs two extra sampling runs per checked component and chain, at the first center only; the rows
compare with χ estimated at that same center (not the average over centers).
"""

from __future__ import annotations

import numpy as np

from patternlang.plan.ir import FiniteDiffSpec, SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.services.coupled import CoupledRun, run_coupled


def _groups(names: list[str]) -> dict[str, list[int]]:
    """Each coordinate alone, plus ``mean(x)`` over the heads of each per-head observable ``x``."""
    out = {n: [i] for i, n in enumerate(names)}
    for owner in dict.fromkeys(n.split("[")[0] for n in names if "[" in n):
        out[f"mean({owner})"] = [i for i, n in enumerate(names) if n.startswith(owner + "[")]
    return out


def finite_difference_rows(check: FiniteDiffSpec, step: SampleStep, ctx: StepContext,
                           chi: np.ndarray, se: np.ndarray, obs_names: list[str],
                           comp_names: list[str]) -> list[dict]:
    """Rows ``{observable, component, chi, chi_se, fd, fd_se, ratio, z, sign_agrees}``."""
    comps = list(check.components or comp_names)
    fd, _ = run_coupled(CoupledRun(step, check.delta, comps, step.sampler.chains, step.sampler.draws,
                                   label="fd", first_center=True), ctx)
    rows = []
    for comp in comps:
        k = comp_names.index(comp)
        for label, idx in _groups(obs_names).items():
            c, s = float(chi[idx, k].mean()), float(np.sqrt((se[idx, k] ** 2).sum()) / len(idx))
            f = float(fd.chi[idx, k].mean())
            fs = _group_se(fd, idx, k)
            err = float(np.hypot(s, fs))
            rows.append({"observable": label, "component": comp, "chi": c, "chi_se": s, "fd": f,
                         "fd_se": fs, "ratio": f / c if c else None,
                         "z": (f - c) / err if err > 0 else None,
                         "sign_agrees": bool(np.sign(f) == np.sign(c)), "delta": check.delta,
                         "central": bool(fd.central[k])})
    return rows


def _group_se(fd, idx: list[int], k: int) -> float:
    """The SE of the mean over ``idx`` of column k: the chains' spread of that mean (correlations
    between heads included), never below the within-chain blocking SE of independent heads."""
    means = fd.per_chain[:, idx, k].mean(1)
    between = float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("nan")
    within = float(np.sqrt((np.nan_to_num(fd.se_within[idx, k]) ** 2).sum()) / len(idx))
    return float(np.fmax(between, within))


__all__ = ["finite_difference_rows"]

"""The finite-difference check of a susceptibility step (``check = finite_difference(...)``).

Linear response says that moving the mixture toward component k, h' = (1 − ε)·h + ε·e_k, moves each
posterior mean by Δ⟨φ⟩ ≈ ε·nβ·χ_{φ,k}. This re-samples the sample step's localized posterior at
(1 ∓ ε)·h ± ε·e_k with the *same* seeds (a paired central difference, see
:mod:`patternlang.engine.finite_diff`) and reports χ_fd = Δ⟨φ⟩ / (ε·nβ) beside the covariance
estimate χ for every observed coordinate (and the mean over heads of per-head observables).

Costs two extra sampling runs per checked component, at the first center only; the rows compare
with χ estimated at that same center (not the average over centers).
"""

from __future__ import annotations

import numpy as np

from patternlang.plan.ir import FiniteDiffSpec, SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.sampling import sample_chains
from patternlang.runtime.steps.common import build_components, derive_seed, select_checkpoints


def _sampler(step: SampleStep, ctx: StepContext, center, seed: int):
    """``sample(weights) -> [C, draws, M]``: the sample step's SGLD and observables at ``center``;
    only the mixture changes between calls (the same seed every call). It changes both the
    sampler's loss and the mixture that observables such as ``llc`` read, so the difference is the
    whole derivative that χ (covariance plus explicit term) estimates."""
    components = build_components(step.components)

    def sample(weights) -> np.ndarray:
        res, _ = sample_chains(step, ctx, center, components, seed=seed, weights=dict(weights),
                               per_sample=False, keep_observations=True)
        return res.observations["x"]

    return sample, dict(step.mixture.weights)


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
    from patternlang.engine.finite_diff import paired_finite_difference

    components = build_components(step.components)
    seed, center, _ = select_checkpoints(step.at, ctx, components, dict(step.mixture.weights),
                                         step.model)[0]
    sample, base = _sampler(step, ctx, center, derive_seed("fd", ctx.plan.seed, step.id, seed))
    rows = []
    for comp in check.components or comp_names:
        bar = ctx.progress.task(f"finite difference toward {comp}", total=1, unit="check")
        fd = paired_finite_difference(sample, base, comp, check.eps, step.sampler.nbeta, obs_names)
        bar.advance()
        bar.close()
        k = comp_names.index(comp)
        for label, idx in _groups(obs_names).items():
            c, s = float(chi[idx, k].mean()), float(np.sqrt((se[idx, k] ** 2).sum()) / len(idx))
            f = float(fd.chi_fd[idx].mean())
            fs = float(np.sqrt((np.nan_to_num(fd.chi_fd_se[idx]) ** 2).sum()) / len(idx))
            err = float(np.hypot(s, fs))
            rows.append({"observable": label, "component": comp, "chi": c, "chi_se": s, "fd": f,
                         "fd_se": fs, "ratio": f / c if c else None,
                         "z": (f - c) / err if err > 0 else None,
                         "sign_agrees": bool(np.sign(f) == np.sign(c)), "eps": check.eps,
                         "central": bool(fd.central)})
    return rows


__all__ = ["finite_difference_rows"]

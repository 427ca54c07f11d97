"""The coupled estimator of χ against closed forms, and its standard errors against replicates.

Oracle: a Gaussian posterior (:class:`GaussMixture`) sampled by unadjusted Langevin at a step where
the covariance is visibly inflated. Paired runs at (1 ∓ δ)h ± δ·e_k share every random number, so
the coupled estimate reads the *mean* response — the exact χ — while the covariance formula reads
the step-inflated covariance. A per-chain "probe" factor (each chain's observable is read through
its own probe set, φ_c = (1 + b_c)·w) makes the probe-set variance part of the truth: only a
standard error that includes it is honest across replicates that re-draw probes and seeds.
"""

import numpy as np
from .gauss_models import GaussMixture
from .test_chi_gaussian import matrix_model

from patternlang.engine.coupled import PairedSeries, column_estimate, coupled_chi

NAMES = ["a", "b", "c"]
DELTA = 0.05


def _shift(h: np.ndarray, k: int, delta: float) -> np.ndarray:
    e = np.zeros_like(h)
    e[k] = 1.0
    return (1 - delta) * h + delta * e


def _coupled(model: GaussMixture, h: np.ndarray, seed: int, *, chains=8, steps=400, step=None,
             probe_sd=0.0, burnin=200) -> tuple:
    """The coupled χ of φ = (1 + b_c)·w over every component, from one replicate (``seed``
    draws the Langevin noise and the probe factors b_c)."""
    step = step if step is not None else 0.3 * 4 / _pmax(model, h)
    b = 1 + probe_sd * np.random.default_rng(seed + 10_000).standard_normal((chains, 1, 1))
    cols = []
    for k in range(len(h)):
        runs = [model.langevin(_shift(h, k, s * DELTA), chains, steps, step, thin=2, seed=seed,
                               burnin=burnin) * b for s in (1, -1)]
        cols.append(column_estimate(PairedSeries(NAMES[k], list(runs[0]), list(runs[1]),
                                                 2 * DELTA * model.nbeta, True)))
    return coupled_chi(cols, ["w0", "w1"], NAMES, DELTA, model.nbeta)


def _pmax(model: GaussMixture, h: np.ndarray) -> float:
    _, S = model.posterior(h)
    return float(np.linalg.eigvalsh(np.linalg.inv(S)).max())


def test_the_coupled_estimate_is_the_exact_mean_response_not_the_step_biased_covariance():
    model, h = matrix_model()
    step = 0.3 * 4 / _pmax(model, h)
    chi = _coupled(model, h, seed=1, chains=8, steps=2000, step=step)
    exact, biased = model.chi_linear(h), model.chi_linear(h, step=step)
    assert np.all(np.abs((chi.chi - exact) / chi.se) < 3.5), (chi.chi, exact, chi.se)
    assert np.max(np.abs((chi.chi - biased) / chi.se)) > 5  # the covariance's bias is resolved away
    assert all(chi.estimated) and all(chi.central)


def test_paired_differences_are_far_less_noisy_than_either_run():
    model, h = matrix_model()
    step = 0.3 * 4 / _pmax(model, h)
    plus = model.langevin(_shift(h, 1, DELTA), 8, 400, step, 2, seed=3, burnin=200)
    minus = model.langevin(_shift(h, 1, -DELTA), 8, 400, step, 2, seed=3, burnin=200)
    unpaired = model.langevin(_shift(h, 1, -DELTA), 8, 400, step, 2, seed=4, burnin=200)
    paired_sd = (plus - minus).mean(1).std(0)
    unpaired_sd = (plus - unpaired).mean(1).std(0)
    assert np.all(unpaired_sd > 10 * paired_sd)


def _honesty(probe_sd: float, reps: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(spread of the estimates over replicates ÷ mean reported SE, the same for the within-chain
    SE alone) per entry, over ``reps`` replicates that re-draw seeds and probes."""
    model, h = matrix_model()
    runs = [_coupled(model, h, seed=100 + r, chains=8, steps=200, probe_sd=probe_sd) for r in range(reps)]
    est = np.stack([c.chi for c in runs])
    spread = est.std(0, ddof=1)
    return spread / np.mean([c.se for c in runs], 0), spread / np.mean([c.se_within for c in runs], 0)


def test_the_reported_se_matches_the_spread_over_replicates_without_probe_noise():
    ratio, _ = _honesty(0.0)
    assert np.all((ratio > 0.75) & (ratio < 1.33)), ratio


def test_the_reported_se_includes_the_probe_set_variance():
    """With per-chain probe factors the between-chain spread carries the probe variance: the SE
    stays honest, while the blocking SE over the draws alone understates the spread."""
    ratio, within_only = _honesty(0.3)
    assert np.all((ratio > 0.75) & (ratio < 1.33)), ratio
    assert np.all(within_only > 1.0), within_only


def test_drift_is_flagged_and_a_stationary_chain_is_not():
    rng = np.random.default_rng(0)
    flat = [rng.normal(1.0, 0.1, (200, 1)) for _ in range(8)]
    ramp = [f + np.linspace(0, 1, 200)[:, None] for f in flat]
    zero = [np.zeros((200, 1)) for _ in range(8)]
    still = column_estimate(PairedSeries("a", flat, zero, 1.0, True))
    moving = column_estimate(PairedSeries("a", ramp, zero, 1.0, True))
    assert abs(still.drift_z[0]) < 3 and moving.drift_z[0] > 10


def test_halves_are_independent_chain_sets():
    model, h = matrix_model()
    chi = _coupled(model, h, seed=5, chains=8, steps=200)
    (a, sa), (b, sb) = chi.half(0), chi.half(1)
    np.testing.assert_allclose((a + b) / 2, chi.chi, rtol=1e-12)
    assert np.all(sa > 0) and np.all(sb > 0)


def test_the_last_column_follows_from_the_others():
    """Σ_k h_k χ_k = 0: the heaviest component's column derived per chain from the others agrees
    with its closed form, with an SE from the chains' spread."""
    from patternlang.engine.coupled import derived_column

    model, h = matrix_model()
    step = 0.3 * 4 / _pmax(model, h)
    full = _coupled(model, h, seed=7, chains=8, steps=1000, step=step)
    cols = [column_estimate(PairedSeries(NAMES[k], *_pair(model, h, k, step, 7), 2 * DELTA * model.nbeta, True))
            for k in (1, 2)]
    derived = derived_column(cols, dict(zip(NAMES, h)), "a")
    exact = model.chi_linear(h)[:, 0]
    assert np.all(np.abs(derived.chi - exact) < 3.5 * derived.se), (derived.chi, exact, derived.se)
    assert np.all(np.abs(derived.chi - full.chi[:, 0]) < 3 * (derived.se + full.se[:, 0]))


def _pair(model, h, k, step, seed):
    runs = [model.langevin(_shift(h, k, s * DELTA), 8, 1000, step, thin=2, seed=seed, burnin=200)
            for s in (1, -1)]
    return list(runs[0]), list(runs[1])


def test_the_design_mixture_puts_every_weighted_component_in_every_minibatch():
    """A component under 1/batch (parentheses' `flat`, 0.0125 at batch 64) is raised to the floor
    *after* normalization, so stratified batches never miss it (they did: issue 23)."""
    import torch

    from patternlang.data.mixture import stratified_counts
    from patternlang.runtime.services.coupled import design_mixture

    base = {"pos": 0.5, "flat": 0.0125, "early": 0.1625, "late": 0.1625, "closing": 0.1625}
    design = design_mixture(base, ["flat", "late"], 64)
    assert abs(sum(design.values()) - 1) < 1e-12 and min(design.values()) >= 1 / 64
    g = torch.Generator().manual_seed(0)
    w = torch.tensor(list(design.values()), dtype=torch.float64)
    assert all(int(stratified_counts(w, 64, g).min()) >= 1 for _ in range(2000))
    # weights above the floor keep their base ratios; nothing floored: the base itself
    assert abs(design["early"] / design["pos"] - 0.325) < 1e-12
    assert design_mixture({"a": 0.35, "b": 0.45, "c": 0.2}, ["a"], 32) == {"a": 0.35, "b": 0.45, "c": 0.2}
    # an estimated component of base weight 0 gets the floor, the rest share the remainder
    d = design_mixture({"a": 0.5, "b": 0.5, "z": 0.0}, ["z"], 16)
    assert d["z"] == (1 + 1e-9) / 16 and abs(d["a"] - d["b"]) < 1e-15


def test_a_minibatch_too_small_for_the_paired_runs_is_refused_with_a_remedy():
    import pytest

    from patternlang.errors import PatRuntimeError
    from patternlang.runtime.services.coupled import design_mixture

    with pytest.raises(PatRuntimeError, match="batch of at least 5"):
        design_mixture({k: 0.2 for k in "abcde"}, [], 4)

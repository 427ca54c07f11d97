"""``preconditioner = fixed``: the registered example of a new update rule (engine/sampler/updates.py).

On a quadratic loss the discrete chain with a constant diagonal G is a Gaussian AR(1) process per
coordinate, so its stationary mean and variance are known exactly (step-size bias included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patternlang.compiler import compile_source
from patternlang.engine.sampler import updates
from patternlang.engine.sampler.fixed_diag import FLOOR, FixedDiagUpdate
from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.errors import PatError
from patternlang.testing.toy_models import GaussianToy

from ...runtime.tiny import TINY


class Draws:
    def __init__(self):
        self.seen = []

    def __call__(self, params):
        self.seen.append(params["w"].double().clone())


def test_discrete_stationary_law_on_a_quadratic_is_the_closed_form():
    """L = ½Σh_i w_i², center w* = 1 off the minimum: coordinate i has k_i = nβh_i + γ, the
    posterior mean γw*_i/k_i, and the chain w' = w - (εG_i/2)k_i(w - μ_i) + sqrt(εG_i)ξ the
    stationary variance 1 / (k_i(1 - εG_ik_i/4)) (about 12 % above the continuous 1/k_i here)."""
    h, nbeta, gamma, eps = np.array([1.0, 4.0, 16.0]), 10.0, 1.0, 0.02
    toy = GaussianToy(h.tolist())
    center = torch.ones(3)
    cfg = SGLDConfig(step_size=eps, gamma=gamma, nbeta=nbeta, num_chains=8, num_draws=4000, burnin=200, thin=2,
                     init_loss_batches=1, seed=3, preconditioner="fixed")
    draws = Draws()
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn, cfg, center={"w": center}, observer=draws,
                   keep_state=True)
    d0 = nbeta * h  # the drift at the center: nβ·H·w* (+ γ·0)
    G = 1 / (d0 + FLOOR * d0.mean())
    G /= G.mean()
    used = res.extra["state"].update["G"]
    np.testing.assert_allclose(used, np.broadcast_to(G, used.shape), rtol=1e-5)
    assert G.max() / G.min() > 10  # a real preconditioner, not G = 1
    k = nbeta * h + gamma
    mean, var = gamma * center.numpy() / k, 1 / (k * (1 - eps * G * k / 4))
    assert np.all(np.abs(var * k - 1) > 0.08)  # the exact variance is distinguishable from 1/k
    w = torch.stack(draws.seen).numpy()  # [draws, chains, 3]
    chain_means = w.mean(axis=0)  # chains are independent: their means give honest standard errors
    se_mean = chain_means.std(axis=0, ddof=1) / np.sqrt(w.shape[1])
    np.testing.assert_array_less(np.abs(chain_means.mean(axis=0) - mean), 4 * se_mean + 1e-4)
    chain_vars = ((w - mean) ** 2).mean(axis=0)
    se_var = chain_vars.std(axis=0, ddof=1) / np.sqrt(w.shape[1])
    np.testing.assert_array_less(np.abs(chain_vars.mean(axis=0) - var), 4 * se_var)
    assert np.all(np.abs(chain_vars.mean(axis=0) - 1 / k) > 4 * se_var)  # and the continuous 1/k is rejected


def test_preconditioner_is_set_once_and_plain_sgld_at_an_exact_minimum():
    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, preconditioner="fixed")
    up = FixedDiagUpdate(cfg, 1.0, torch.zeros(2), None, [torch.Generator().manual_seed(0)], 1)
    up(torch.zeros(1, 2), torch.zeros(1, 2))  # first step at an exact minimum: d0 = 0
    assert torch.equal(up.G, torch.ones(1, 2))
    up(torch.zeros(1, 2), torch.tensor([[5.0, 0.1]]))
    assert torch.equal(up.G, torch.ones(1, 2))  # never re-estimated
    G = FixedDiagUpdate.preconditioner(torch.tensor([[0.1, 1.0, 10.0]]))
    assert float(G.mean()) == pytest.approx(1.0) and G[0, 0] > G[0, 1] > G[0, 2]


def test_a_spec_selects_it_and_the_checker_reads_the_registry():
    assert updates.names()[0] == "none" and {"rmsprop", "fixed"} <= set(updates.names())
    text = TINY.split("patterning up")[0]
    plan = compile_source(text.replace("burnin = 4", "burnin = 4  preconditioner = fixed"))
    samplers = [s.sampler for s in plan.steps if getattr(s, "sampler", None) is not None]
    assert samplers and all(s.preconditioner == "fixed" for s in samplers)
    with pytest.raises(PatError, match="none or rmsprop or fixed"):
        compile_source(text.replace("burnin = 4", "burnin = 4  preconditioner = adam"))

"""Continuing a run from its ChainState gives the numbers of one uninterrupted run, bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from patternlang.engine.sampler import updates
from patternlang.engine.sampler.chain_state import ChainState
from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.testing.toy_models import GaussianToy

from .test_sgld_core import tiny_lm


class SumObserver:
    """Accumulates the sum of a parameter norm per chain at every kept draw (a stand-in for the
    co-moments an Observer keeps; the caller carries it from one call to the next)."""

    def __init__(self):
        self.total = None

    def __call__(self, params):
        v = params["unembed.W_U"].flatten(1).double().norm(dim=1)
        self.total = v.clone() if self.total is None else self.total + v
        return None


@pytest.mark.parametrize("preconditioner", updates.names())
@pytest.mark.parametrize("thin", [1, 2])
def test_chunks_continue_exactly_like_one_run(preconditioner, thin):
    model, loss_fn, batch_fn = tiny_lm()
    cfg = SGLDConfig(step_size=1e-3, gamma=10.0, num_chains=3, num_draws=25, burnin=7, thin=thin,
                     preconditioner=preconditioner, check_every=4)
    whole_obs = SumObserver()
    whole = run_sgld(model, loss_fn, batch_fn, cfg, observer=whole_obs)
    obs = SumObserver()
    first = run_sgld(model, loss_fn, batch_fn, dataclasses.replace(cfg, num_draws=10), observer=obs,
                     keep_state=True)
    state = ChainState.from_arrays(first.extra["state"].to_arrays())  # through the saved form
    second = run_sgld(model, loss_fn, batch_fn, dataclasses.replace(cfg, num_draws=9), observer=obs,
                      start=state, keep_state=True)
    last = run_sgld(model, loss_fn, batch_fn, dataclasses.replace(cfg, num_draws=6), observer=obs,
                    start=second.extra["state"])
    assert np.array_equal(last.loss_trace, whole.loss_trace)
    assert np.array_equal(last.draw_sum, whole.draw_sum) and np.array_equal(last.draw_sumsq, whole.draw_sumsq)
    assert last.llc_mean == whole.llc_mean and last.llc_se == whole.llc_se
    assert last.config == whole.config and list(last.draw_count) == [25] * 3
    assert torch.equal(obs.total, whole_obs.total)
    assert last.to_dict().keys() == whole.to_dict().keys()


def test_a_dropped_chain_stays_dropped_and_the_others_continue_exactly():
    toy = GaussianToy([1.0, 1.0])

    def batch_fn(chain, step, g):
        bad = chain == 1 and step >= 12
        return {"x": torch.zeros(1, 1), "weight": torch.tensor([float("nan")]) if bad else torch.ones(1)}

    cfg = SGLDConfig(step_size=1e-3, gamma=1.0, nbeta=10.0, num_chains=3, num_draws=40, check_every=5)
    whole = run_sgld(toy, toy.batched_loss, batch_fn, cfg)
    part = run_sgld(toy, toy.batched_loss, batch_fn, dataclasses.replace(cfg, num_draws=20), keep_state=True)
    rest = run_sgld(toy, toy.batched_loss, batch_fn, dataclasses.replace(cfg, num_draws=20),
                    start=part.extra["state"])
    assert [d.chain for d in rest.diagnostics.divergences] == [1] and not rest.alive[1]
    kept = [0, 2]
    assert np.array_equal(rest.loss_trace[kept], whole.loss_trace[kept])
    assert rest.llc_mean == whole.llc_mean


def test_start_must_hold_the_same_chains():
    model, loss_fn, batch_fn = tiny_lm()
    cfg = SGLDConfig(step_size=1e-3, gamma=10.0, num_chains=2, num_draws=3)
    state = run_sgld(model, loss_fn, batch_fn, cfg, keep_state=True).extra["state"]
    with pytest.raises(Exception, match="start holds chains"):
        run_sgld(model, loss_fn, batch_fn, cfg, chain_ids=[0, 1, 2], start=state)


def test_sample_until_stops_on_the_llc_z_and_matches_a_fixed_run():
    from patternlang.engine.sampler.draws_rule import budget_warnings, draws_needed, sample_until

    model, loss_fn, batch_fn = tiny_lm()
    # gamma 200: the equilibration time 2/(eps gamma) is 10 steps, one chunk
    cfg = SGLDConfig(step_size=1e-3, gamma=200.0, num_chains=3, num_draws=1, burnin=5)
    res, checks = sample_until(model, loss_fn, batch_fn, cfg, z=1e6, max_draws=30, chunk=10)
    assert [c.draws for c in checks] == [10, 20, 30] and not checks[-1].resolved
    fixed = run_sgld(model, loss_fn, batch_fn, dataclasses.replace(cfg, num_draws=30))
    assert res.llc_mean == fixed.llc_mean and np.array_equal(res.loss_trace, fixed.loss_trace)
    z_last = checks[-1].best["llc"]
    assert z_last == pytest.approx(abs(fixed.llc_mean) / fixed.llc_se)
    (warning,) = budget_warnings(checks[-1], "estimate")
    assert f"{draws_needed(30, 1e6, z_last)} draws" in warning and "'llc'" in warning
    # a threshold the first chunk already meets stops there
    easy, first = sample_until(model, loss_fn, batch_fn, cfg, z=min(1.0, 0.5 * checks[0].best["llc"]),
                               max_draws=30, chunk=10)
    assert [c.draws for c in first] == [10] and first[0].resolved and easy.draw_count[0] == 10


def test_draws_needed_is_n_times_the_squared_shortfall():
    from patternlang.engine.sampler.draws_rule import ChunkCheck, draws_needed

    assert draws_needed(400, 3.0, 1.5) == 1600 and draws_needed(400, 3.0, 6.0) == 400
    assert draws_needed(400, 3.0, None) is None and draws_needed(400, 3.0, 0.0) is None
    assert not ChunkCheck(10, {}, 3.0).resolved  # no row: nothing is resolved
    assert ChunkCheck(10, {"a": 3.0, "b": 4.0}, 3.0).resolved and not ChunkCheck(10, {"a": None}, 3.0).resolved


def test_no_z_is_trusted_before_the_chains_ran_their_equilibration_time():
    from patternlang.engine.sampler.draws_rule import ChunkCheck, budget_warnings, equilibration_draws

    # 2/(eps gamma) SGLD steps: eps 1e-3, gamma 100 -> 20 steps -> 10 kept draws at thin 2
    assert equilibration_draws(1e-3, 100.0, 2) == 10 and equilibration_draws(4.9e-6, 300.0) == 1361
    early = ChunkCheck(12, {"raise mean(ih)": 791.0}, 3.0, min_draws=1361)  # chains barely moved
    assert not early.resolved and not early.equilibrated
    (warning,) = budget_warnings(early, "targeted row")
    assert "equilibration time (1361 draws" in warning and "max >= 1361" in warning
    late = ChunkCheck(1400, {"raise mean(ih)": 4.0}, 3.0, min_draws=1361)
    assert late.resolved and budget_warnings(late) == []


def test_a_row_whose_z_does_not_grow_with_the_draws_is_said_to_look_like_zero():
    """The quickstart's step-100 mean(ih) row under step = auto (examples/quickstart/
    step_auto.pat): |z| 1.36 -> 1.76 over 200 -> 2000 draws, where a nonzero entry's grows x3.16."""
    from patternlang.engine.sampler.draws_rule import ChunkCheck, budget_warnings

    flat = [ChunkCheck(d, {"raise mean(ih)": z}, 3.0)
            for d, z in ((200, 1.36), (400, 1.77), (1000, 1.45), (2000, 1.76))]
    (warning,) = budget_warnings(flat[-1], "targeted row", flat)
    assert "looks like zero" in warning and "1.4 -> 1.8 from 200 to 2000 draws" in warning
    # a row growing as sqrt(draws) (1.0 -> 2.8 over 8x) is only short of budget
    growing = [ChunkCheck(d, {"r": z}, 3.0) for d, z in ((100, 1.0), (400, 2.0), (800, 2.8))]
    (warning,) = budget_warnings(growing[-1], "targeted row", growing)
    assert "looks like zero" not in warning and "would resolve it" in warning
    # too short a history (< 4x the draws) says nothing either way
    assert "looks like zero" not in budget_warnings(flat[1], "row", flat[:2])[0]

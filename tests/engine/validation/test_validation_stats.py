"""The validation statistics against scipy and hand-computed answers (engine/validation.py) and
the verdict per target (engine/verdict.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from patternlang.engine import validation as val
from patternlang.engine.verdict import hold_tolerance, target_verdict


@pytest.mark.parametrize("seed", range(5))
def test_ranks_and_spearman_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, 12).astype(float)  # many ties
    y = x + rng.integers(-2, 3, 12)
    np.testing.assert_allclose(val.ranks(x), stats.rankdata(x))
    assert val.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_spearman_known_answers_and_undefined_cases():
    assert val.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert val.spearman([1, 2, 3, 4], [1, 0.5, 0.2, 0.1]) == pytest.approx(-1.0)
    assert val.spearman([1, 2], [1, 2]) is None  # fewer than three points
    assert val.spearman([1, 2, 3], [5, 5, 5]) is None  # nothing to rank
    assert val.spearman([1, 2, 3, np.nan], [1, 2, 3, 0]) == pytest.approx(1.0)  # NaN pair dropped


def test_beat_fraction_counts_ties_half():
    assert val.beat_fraction(200, [300, 250, 200, 100], lower_is_better=True) == pytest.approx(2.5 / 4)
    assert val.beat_fraction(0.3, [0.1, 0.3, 0.5], lower_is_better=False) == pytest.approx(1.5 / 3)
    assert val.beat_fraction(1.0, [], True) is None


def test_sign_agreement_ignores_unresolved_predictions():
    # the second arm's prediction is within its SE: it has no sign to agree with
    agree, n = val.sign_agreement([0.5, 1e-6, -0.4, 0.3], [0.1, 1e-5, 0.1, None], [1.0, -1.0, 2.0, 0.2])
    assert n == 3 and agree == pytest.approx(2 / 3)
    assert val.sign_agreement([1e-6], [1e-5], [1.0]) == (None, 0)


def test_censored_mean_and_onset_comparisons_never_order_two_lower_bounds():
    assert val.censored_mean([100, None, 200], 500) == pytest.approx(800 / 3)
    assert val.compare_onsets(475, True, 500, True) == "not ordered"
    assert val.compare_onsets(450, True, 300, False) == "later at least"
    assert val.compare_onsets(250, True, 300, False) == "not ordered"
    assert val.compare_onsets(200, False, 480, True) == "earlier at least"
    assert val.compare_onsets(200, False, 300, False) == "earlier"


def test_realized_objective_is_one_sided_for_raise_and_two_sided_for_hold():
    kinds, desired, weights = ["raise", "hold"], [0.1, 0.0], [1.0, 2.0]
    assert val.realized_objective(kinds, desired, weights, [0.5, 0.0]) == 0.0  # overshoot is success
    assert val.realized_objective(kinds, desired, weights, [0.04, 0.1]) == pytest.approx(
        0.06**2 + 2 * 0.01)
    assert val.target_loss("lower", -0.1, -0.02) == pytest.approx(0.08**2)


def test_bootstrap_interval_brackets_the_mean_and_is_degenerate_without_spread():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    lo, hi = val.bootstrap(lambda i: float(x[i].mean()), 4, n_boot=2000, seed=1)
    assert 1.0 <= lo < 2.5 < hi <= 4.0
    assert val.bootstrap(lambda i: 7.0, 4) == [7.0, 7.0]
    assert val.bootstrap(lambda i: 1.0, 1) is None


def _data(realized_scale: float, onset=None, lower=None) -> val.ArmsData:
    """Arms whose realized change is ``realized_scale`` x the prediction, two seeds each."""
    pred = {"baseline": 0.0, "patterned": 1.0, "opposite": -1.0, "random1": 0.2, "random2": -0.5,
            "random3": 0.6, "random4": 1.0}
    values = {a: np.array([[10 + realized_scale * p + s] for s in (-0.01, 0.01)])
              for a, p in pred.items()}
    return val.ArmsData(list(pred), values, {a: np.array([p]) for a, p in pred.items()},
                        {a: np.array([0.1]) for a in pred},
                        [{"label": "raise x", "kind": "raise", "desired": 0.1, "weight": 1.0}],
                        0, 500, onset or {}, lower)


def test_summary_of_a_perfectly_linear_response():
    s = val.summarize(_data(3.0), n_boot=200)
    assert s["lds_spearman"] == pytest.approx(1.0) and s["sign_agreement"] == 1.0
    # the patterned change beats random1..3 and ties random4 (the same prediction)
    assert s["random_percentile"] == pytest.approx(3.5 / 4)
    assert s["lds_spearman_ci"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert s["sign_resolved_arms"] == 6
    anti = val.summarize(_data(-3.0), n_boot=50)
    assert anti["lds_spearman"] == pytest.approx(-1.0) and anti["random_percentile"] == pytest.approx(0.5 / 4)  # ties random4


def test_onset_objective_with_censoring():
    onset = {"baseline": [300, 350], "patterned": [200, 210], "opposite": [None, None],
             "random1": [None, 400], "random2": [200, 210], "random3": [250, 260], "random4": [None, None]}
    s = val.summarize(_data(1.0, onset, lower=True), n_boot=50)
    assert s["outcomes"]["random1"] == pytest.approx(450.0)  # the absent seed counts at the horizon
    assert s["random_percentile"] == pytest.approx(3.5 / 4)


def test_lds_on_the_onset_ranks_predicted_progress_against_onset_advance():
    # predictions (see _data): patterned 1.0, opposite -1.0, random1 0.2, random2 -0.5,
    # random3 0.6, random4 1.0; onsets ordered exactly by the prediction (earlier = more progress)
    onset = {"baseline": [400, 400], "patterned": [200, 200], "opposite": [None, None],
             "random1": [350, 350], "random2": [450, 450], "random3": [300, 300],
             "random4": [200, 200]}
    s = val.summarize(_data(1.0, onset, lower=True), n_boot=50)
    assert s["lds_onset_spearman"] == pytest.approx(1.0)
    # a delay (later is better) with the same onsets and a `lower` target: progress = -prediction,
    # advance = arm - baseline, so the ranking is again perfect
    delay = _data(1.0, onset, lower=False)
    delay.targets[0].update(kind="lower", desired=-0.1)
    assert val.summarize(delay, n_boot=50)["lds_onset_spearman"] == pytest.approx(1.0)
    # shuffle two arms: random1 now forms latest
    worse = {**onset, "random1": [None, 500]}
    got = val.summarize(_data(1.0, worse, lower=True), n_boot=50)["lds_onset_spearman"]
    assert got == pytest.approx(stats.spearmanr([1.0, -1.0, 0.2, -0.5, 0.6, 1.0],
                                                [200, -100, -100, -50, 100, 200]).statistic)
    assert val.summarize(_data(1.0), n_boot=10)["lds_onset_spearman"] is None  # no onset


def test_verdict_of_a_hold_and_an_unresolved_prediction():
    base = [1.00, 1.02, 0.98]
    assert hold_tolerance(base) == pytest.approx(max(2 * np.std(base), 0.02))
    moved = target_verdict("hold mean(ind)", "hold", 0.0, 6e-5, 6e-5, [1.18, 1.20, 1.16], base)
    assert moved["held"] is False and moved["sign_agrees"] is None  # 6e-5 +- 6e-5: unresolved
    held = target_verdict("hold l", "hold", 0.0, 1e-3, 1e-4, [1.00, 1.03, 0.99], base)
    assert held["held"] is True and held["sign_agrees"] is True
    up = target_verdict("raise x", "raise", 0.1, 0.2, 0.01, [0.5, 0.6, 0.7], [0.3, 0.3, 0.3])
    assert up["reached"] is True and up["realized_mean"] == pytest.approx(0.3)


def test_every_onset_censored_is_not_a_percentile():
    """Issue 26 item 6: with no onset within the horizon, 'beats 50% [50%, 50%]' was a tie of
    nothings; it is None and said to be no comparison."""
    none = {a: [None, None] for a in ("baseline", "patterned", "opposite", "random1", "random2",
                                      "random3", "random4")}
    s = val.summarize(_data(1.0, none, lower=True), n_boot=50)
    assert s["random_percentile"] is None and s["random_percentile_ci"] is None
    assert "censored" in s["degenerate"][0]
    assert val.summarize(_data(1.0), n_boot=20)["degenerate"] == []

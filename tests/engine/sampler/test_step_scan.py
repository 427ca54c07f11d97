"""step = auto: the scan finds the ε range where λ̂ no longer depends on ε (Gaussian closed form)."""

import pytest

from patternlang.engine.sampler.sgld import SGLDConfig, run_sgld
from patternlang.engine.sampler.step_scan import agree, scan_step_size
from patternlang.errors import PatRuntimeError
from patternlang.testing.toy_models import GaussianToy


def _cfg(**kw):
    return SGLDConfig(step_size=1.0, gamma=5.0, nbeta=200.0, num_chains=8, init_loss_batches=1,
                      check_every=50, **kw)


def test_scan_chooses_a_step_whose_llc_is_the_closed_form():
    toy = GaussianToy([1.0, 4.0, 0.5])  # stiffest direction a = nβh + γ = 805: ε must be << 4/805
    scan = scan_step_size(toy, toy.batched_loss, toy.batch_fn, _cfg(), max_step=1e-2, draws=2000)
    assert scan.plateau is not None and scan.chosen == scan.plateau[0] and not scan.warnings
    assert scan.chosen < 2e-3  # the large steps are biased or diverge and are passed over
    assert not scan.rows[0]["stable"] or abs(scan.rows[0]["llc"] / toy.expected_llc(200.0, 5.0) - 1) > 0.1
    res = run_sgld(toy, toy.batched_loss, toy.batch_fn,
                   SGLDConfig(**{**_cfg().__dict__, "step_size": scan.chosen, "num_draws": 3000, "burnin": 500}))
    assert res.llc_mean == pytest.approx(toy.expected_llc(200.0, 5.0), rel=0.15)
    assert [r["step_size"] for r in scan.rows] == [1e-2 / 2 ** k for k in range(len(scan.rows))]
    assert all(r["burnin"] >= 2 / (r["step_size"] * 5.0) for r in scan.rows if "burnin" in r)


def test_no_plateau_is_a_warning_and_falls_back_to_the_smallest_stable_step():
    toy = GaussianToy([1.0, 4.0, 0.5])
    scan = scan_step_size(toy, toy.batched_loss, toy.batch_fn, _cfg(), max_step=1e-3, draws=200,
                          max_points=3, rel_tol=1e-4)
    assert scan.plateau is None and scan.chosen == min(r["step_size"] for r in scan.rows if r["stable"])
    assert "no plateau" in scan.warnings[0] and "Remedy" in scan.warnings[0]
    assert scan.to_dict()["chosen"] == scan.chosen


def test_agree_needs_resolved_estimates():
    a = {"stable": True, "llc": 10.0, "llc_se": 0.1}
    assert agree(a, {"stable": True, "llc": 10.4, "llc_se": 0.1}, 0.05)
    assert not agree(a, {"stable": True, "llc": 11.5, "llc_se": 0.1}, 0.05)       # differ
    assert not agree(a, {"stable": True, "llc": 10.0, "llc_se": 2.0}, 0.05)       # unresolved
    assert not agree(a, {"stable": False, "llc": 10.0, "llc_se": 0.1}, 0.05)


def test_bad_settings_and_no_stable_step_are_clear_errors():
    toy = GaussianToy([1.0])
    with pytest.raises(PatRuntimeError, match="scan"):
        scan_step_size(toy, toy.batched_loss, toy.batch_fn, _cfg(), factor=1.0)
    with pytest.raises(PatRuntimeError, match="no stable step"):
        scan_step_size(toy, toy.batched_loss, toy.batch_fn, _cfg(), max_step=10.0, max_points=3, points=2, draws=20)

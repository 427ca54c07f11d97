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


def _synthetic(with_rows: bool):
    """λ̂ = 10 ± 0.1 at every ε (flat from the largest); the targeted row's first component is 1.0
    at ε = 1e-2 and 0.5 below it (± 0.05): the row breaks the plateau earlier than λ̂."""
    from patternlang.engine.sampler.step_scan import walk

    def measure(eps, burnin):
        row = {"step_size": eps, "stable": True, "llc": 10.0, "llc_se": 0.1, "burnin": burnin}
        if with_rows:
            row["rows"] = {"raise a": {"value": [1.0 if eps > 6e-3 else 0.5, -0.2], "se": [0.05, 0.05],
                                       "components": ["x", "y"]}}
        return row

    settings = {"max_step": 1e-2, "factor": 2.0, "points": 3, "draws": 200, "burnin": 10,
                "rel_tol": 0.1, "max_burnin": 10 ** 9, "max_points": 8, "chi_rows": with_rows}
    return walk(measure, 5.0, settings)


def test_a_targeted_row_that_moves_with_the_step_moves_the_plateau():
    assert _synthetic(False).plateau == [1e-2, 5e-3, 2.5e-3]  # λ̂ alone: flat from the largest ε
    scan = _synthetic(True)
    assert scan.plateau == [5e-3, 2.5e-3, 1.25e-3] and scan.chosen == 5e-3
    assert scan.rows[0]["rows"]["raise a"]["value"][0] == 1.0  # the rows are recorded per ε


def test_rows_agree_within_bonferroni_combined_errors():
    from patternlang.engine.sampler.step_scan import rows_agree

    def r(v, s=0.1):
        return {"t": {"value": [v, 0.0], "se": [s, s], "components": ["x", "y"]}}

    assert rows_agree(None, None, 0.1) and not rows_agree(r(1.0), None, 0.1)
    t = 2.2414  # the two-sided 95 % quantile over K = 2 components, Bonferroni
    assert rows_agree(r(0.0), r(0.99 * t * 0.1 * 2 ** 0.5), 0.0)
    assert not rows_agree(r(0.0), r(1.01 * t * 0.1 * 2 ** 0.5), 0.0)
    assert rows_agree(r(10.0, 1e-6), r(10.5, 1e-6), 0.1)  # within rel_tol of a resolved row
    assert not rows_agree(r(float("nan")), r(0.0), 0.1)

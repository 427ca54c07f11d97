"""Issue 26 item 6: the report refuses to call a degenerate design a comparison."""

from __future__ import annotations

from patternlang.runtime.steps.verify.section import headline, regression_lines
from patternlang.runtime.validation_types import RegressionRecord, ValidationResult


def _validation(**extra) -> ValidationResult:
    return ValidationResult.model_validate(
        {"random_arms": 4, "objective": "onset of mean(ih) (censored at 500)",
         "random_percentile": None, "random_percentile_ci": None, "objective_percentile": 0.5,
         "objective_percentile_ci": None, "lds_target": "raise mean(ih)", "points": [],
         "evaluated_at": 500, "evaluated_at_reason": "the horizon", "lds_spearman": None,
         "lds_spearman_ci": None, "sign_agreement": None, "sign_agreement_ci": None,
         "sign_resolved_arms": 0, "per_target": [], "outcomes": {}, "outcome_lower_is_better": True,
         "objectives": {}, **extra})


def test_all_censored_onsets_are_said_to_be_no_comparison():
    lines = headline(_validation(degenerate=["every onset of the patterned and random arms is "
                                             "censored at the horizon (500)"]))
    assert lines[0].startswith("- **Not a comparison**: every onset")
    assert "beats —" in lines[1] and "50%" not in lines[1]


def test_a_degenerate_regression_is_not_the_black_box_baseline():
    compute = {"patterning": {"checkpoint_fwd_bwd": 1, "sampling_fwd_bwd": 1, "observation_fwd": 1,
                              "equivalent_fwd_bwd": 2.0},
               "regression": {"training_fwd_bwd": 1, "observation_fwd": 1, "equivalent_fwd_bwd": 2.0}}
    fit = {"target": "t", "model": "linear", "value_at_base": 1.0, "gradient": {}, "alpha": 1.0,
           "cv_rmse": 0.1, "r2_loo": -0.5}
    record = {"runs": 3, "steps": 10, "model": "linear", "mixtures": [], "measured": [], "weights": {},
              "compute": compute, "solution": {"status": "optimal"}, "fits": [fit],
              "degenerate": ["1 of the 3 proxy mixtures repeat another (2 are the base mixture)"]}
    text = "\n".join(regression_lines(RegressionRecord.model_validate(record), {}))
    assert "not a black-box baseline**: 1 of the 3 proxy mixtures repeat" in text
    assert "Regression baseline" not in text
    record["degenerate"] = []
    assert "Regression baseline" in "\n".join(regression_lines(RegressionRecord.model_validate(record), {}))

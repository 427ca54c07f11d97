"""The ``verify`` step: :mod:`.runner` (retraining every arm, onsets, calibration),
:mod:`.validation` (arms, target functionals, the validation summary and verdicts),
:mod:`.regression_arm` (the black-box baseline's proxies), :mod:`.section` (its part of the
report)."""

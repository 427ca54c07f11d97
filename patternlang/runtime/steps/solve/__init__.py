"""The ``solve`` step: :mod:`.runner` (the rounds of the inverse problem), :mod:`.per_sample`
(per-sample patterning over pool examples), :mod:`.trust` (split-half reproducibility, drift
warnings, the posterior check), :mod:`.section` (its part of the report)."""

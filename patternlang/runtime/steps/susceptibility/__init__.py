"""The ``susceptibility`` step: :mod:`.runner` (χ from the sample step's co-moments, the coupled
estimator and the finite-difference check), :mod:`.component` (component susceptibilities),
:mod:`.fd_check` (the finite-difference check), :mod:`.section` (its part of the report)."""

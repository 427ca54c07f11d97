"""The ``observe`` step: :mod:`.runner` (observables measured at trained checkpoints, no
sampling), :mod:`.section` (its part of the report)."""

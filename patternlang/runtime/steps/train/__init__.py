"""The ``train`` step: :mod:`.runner` (a pool of training runs, one per seed), :mod:`.section`
(its part of the report)."""

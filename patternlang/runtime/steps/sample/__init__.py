"""The ``sample`` step: :mod:`.runner` (localized SGLD at every center), :mod:`.parts` (the (center,
chain group) units, worker processes, kept chains), :mod:`.step_auto` (``step = auto``),
:mod:`.draws_auto` (``draws = auto``), :mod:`.section` (its part of the report)."""

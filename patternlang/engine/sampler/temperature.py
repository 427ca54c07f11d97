"""The sampler's scales without torch: the default inverse temperature nβ (the compiler resolves
``nbeta = auto`` with it) and the localization's relaxation time."""

from __future__ import annotations

import math


def default_nbeta(batch_size: int) -> float:
    """devinterp's default inverse temperature nβ = B / log B (B >= 2; 1 for B = 1)."""
    return batch_size / math.log(batch_size) if batch_size > 1 else 1.0


def localization_steps(step_size: float, gamma: float) -> float:
    """SGLD steps of one relaxation time of the localization, 2/(εγ): the term γ/2·|w − w*|² pulls
    a chain back toward the center by εγ/2 per step, so chains need about this long to spread over
    the posterior (the burn-in of ``step = auto``, the scan's per-point burn-in, and the draws
    ``draws = auto`` waits for before it trusts a z)."""
    return 2.0 / (step_size * gamma)

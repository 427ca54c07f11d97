"""The default inverse temperature nβ (no torch: the compiler resolves ``nbeta = auto`` with it)."""

from __future__ import annotations

import math


def default_nbeta(batch_size: int) -> float:
    """devinterp's default inverse temperature nβ = B / log B (B >= 2; 1 for B = 1)."""
    return batch_size / math.log(batch_size) if batch_size > 1 else 1.0

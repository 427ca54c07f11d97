"""Shared helpers for the inverse-solve tests."""

from __future__ import annotations

import numpy as np

from patternlang.engine.solve import LinearTarget
from patternlang.plan.ir import ConstraintSpec


def unit(m: int, i: int) -> np.ndarray:
    e = np.zeros(m)
    e[i] = 1.0
    return e


def raise_target(m: int, i: int, amount: float, label: str = "", weight: float = 1.0):
    return LinearTarget(unit(m, i), "raise", amount=amount, weight=weight, label=label or f"raise {i}")


def bound(name: str, op: str, rhs: float, label: str | None = None) -> ConstraintSpec:
    return ConstraintSpec(kind="linear", coeffs={name: 1.0}, op=op, rhs=rhs,
                          label=label if label is not None else f"{name} {op} {rhs}")

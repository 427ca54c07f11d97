"""The inverse problem: new data weights from chi, targets and constraints (see docs/solver.md).

``solver`` states the problem and reports the outcome, ``program`` builds and runs the cvxpy program,
``types`` holds the result types, ``diagnostics`` explains the spectrum and the binding constraints,
``feasible`` decides before any run whether the constraints can hold at all (numpy and scipy only:
the checker uses it, and imports no cvxpy).

The names below are imported on first use, so importing ``patternlang.engine.solve.feasible``
does not load cvxpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"desired_changes": "solver", "require_feasible": "solver", "solve_weights": "solver",
          "LinearTarget": "types", "Solution": "types"}

__all__ = ["LinearTarget", "Solution", "desired_changes", "require_feasible", "solve_weights"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"patternlang.engine.solve.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'patternlang.engine.solve' has no attribute {name!r}")

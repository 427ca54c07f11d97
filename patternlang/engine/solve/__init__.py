"""The inverse problem: new data weights from chi, targets and constraints (see docs/solver.md).

``solver`` states the problem and reports the outcome, ``program`` builds and runs the cvxpy program,
``types`` holds the result types, ``diagnostics`` explains the spectrum and the binding constraints.
"""

from patternlang.engine.solve.solver import desired_changes, require_feasible, solve_weights
from patternlang.engine.solve.types import LinearTarget, Solution

__all__ = ["LinearTarget", "Solution", "solve_weights", "require_feasible", "desired_changes"]

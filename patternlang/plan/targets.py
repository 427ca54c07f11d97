"""What a patterning asks of the new mixture: targets on observables (or steps along a principal
mode of χ), the convex constraints on the new weights, and the targets a sample step checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from patternlang.plan.base import IRModel, SourceLoc, unset
from patternlang.plan.observables import ObsExpr


class TargetSpec(IRModel):
    """A target on a (linear) observable expression, or a step along a principal direction.

    ``raise``/``lower`` by ``amount``; ``reach`` ``value``; ``hold`` (change 0). ``expr`` is built from
    ``ref`` nodes; a relative target (``lower A relative to B``) is ``expr = A - B``.

    ``move``: a mixture step of signed length ``amount`` along the data vector of one principal
    mode of χ, chosen by index (``mode``) or as the mode that moves ``expr`` most (``mode`` None);
    its sign is fixed so that a positive amount raises ``expr`` (by index: the structure vector's
    largest loading). ``expr`` is unused (a constant) when the mode is given by index.
    """

    kind: Literal["raise", "lower", "reach", "hold", "move"]
    expr: ObsExpr
    label: str
    amount: float | None = None
    value: float | None = None
    weight: float = 1.0
    loc: SourceLoc | None = None
    # left out of the JSON (and the hash) while unset: plans without a move target are unchanged
    mode: int | None = Field(default=None, exclude_if=unset)


class ConstraintSpec(IRModel):
    """A convex constraint on the new weights h' (checked convex by the front end).

    * ``linear``: sum_k coeffs[k] * h'_k  (op)  rhs   (bounds, sums, ratios written linearly)
    * ``fixed``: h'_k = h_k for each component in ``components``
    * ``kl``: KL(h' || h) <= rhs
    * ``l2``: ||h' - h||_2 <= rhs
    """

    kind: Literal["linear", "fixed", "kl", "l2"]
    coeffs: dict[str, float] = Field(default_factory=dict)
    op: Literal["<=", ">=", "=="] = "<="
    rhs: float = 0.0
    components: list[str] = Field(default_factory=list)
    label: str = ""
    loc: SourceLoc | None = None


class CheckedTarget(IRModel):
    """A target of a patterning downstream of a sample step, whose χ row that step checks
    (``step = auto``'s plateau, ``draws = auto``'s stopping rule): the solve step, the
    susceptibility step whose rows it reads, and the target itself (raise, lower or reach)."""

    solve: str
    susceptibility: str
    target: TargetSpec

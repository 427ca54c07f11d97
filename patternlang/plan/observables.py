"""Observables as expression trees over primitives, and what the plan decides by them: which
trained seeds' checkpoints a step reads (:class:`CheckpointRef`, :class:`Selection`) and when a
structure forms (:class:`OnsetSpec`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from patternlang.plan.base import IRModel


class ObsExpr(IRModel):
    """An observable as an expression tree over primitives.

    ``op`` is one of: ``prim`` (``name`` + ``args``), ``const`` (``value``), ``add``, ``sub``,
    ``mul``, ``div``, ``neg`` (``operands``), ``mean`` / ``sum`` (reduce a vector observable to a
    scalar), ``index`` (``index``: one coordinate of a vector observable), and ``ref`` (a declared
    observable of a susceptibility step: ``source`` = step id, ``name`` = observable name; only in
    targets).
    """

    op: str
    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    value: float | None = None
    operands: list[ObsExpr] = Field(default_factory=list)
    index: int | None = None
    source: str | None = None


class ObservableSpec(IRModel):
    name: str
    expr: ObsExpr
    doc: str = ""


class Selection(IRModel):
    """Choose trained seeds whose final checkpoint satisfies ``observable op threshold``."""

    observable: ObservableSpec
    op: Literal[">", ">=", "<", "<="]
    threshold: float
    limit: int | None = None


class CheckpointRef(IRModel):
    """A checkpoint of a train step: ``step`` (None = final) of every selected seed."""

    train: str
    step: int | None = None
    select: Selection | None = None


class OnsetSpec(IRModel):
    """Structure formation threshold: first step at which ``observable op threshold``."""

    observable: ObservableSpec
    op: Literal[">", ">=", "<", "<="] = ">="
    threshold: float

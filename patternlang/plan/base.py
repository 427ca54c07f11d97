"""The base of the IR: the frozen pydantic model every plan element is, and source locations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class IRModel(BaseModel):
    """A plan element: immutable, and no field the IR does not declare."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceLoc(IRModel):
    """Where a plan element came from, so runtime errors can point back into the spec."""

    file: str
    line: int
    col: int


def unset(v: Any) -> bool:
    """``exclude_if`` for an optional field left out of the JSON (and the hash) while None."""
    return v is None

"""The base of every step's result model (:mod:`patternlang.runtime.results_types`,
:mod:`patternlang.runtime.sample_types`): :class:`Record` (a JSON record that refuses unknown
keys), :class:`Sparse` (one that writes the keys it was given, as given), :class:`StepResult` (what
every ``done.json`` has) and ``Num``, a number that may be missing."""

from __future__ import annotations

from typing import Any

from pydantic import (BaseModel, ConfigDict, PrivateAttr, SerializerFunctionWrapHandler,
                      ValidatorFunctionWrapHandler, model_serializer, model_validator)

Num = float | None  # a number that may be missing (NaN is written as null)


class Record(BaseModel):
    """A record of a step's JSON: a key the model does not know is an error, not data to drop."""

    model_config = ConfigDict(extra="forbid")


class Sparse(Record):
    """A record whose JSON holds the keys it was given, in the order given, and no others.

    Some records keep the shape their writer gave them key for key: a step scan point that diverged
    is written without ``rhat`` and reads back and writes out without it (not as ``"rhat": null``);
    a point that was not run has its ``reason`` last. So ``results.json`` is what it was when these
    records were plain dicts. The fields of a sparse record that have a default are the keys some
    writer leaves out; a field set later (``record.x = ...``) is written after the given ones."""

    _keys: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_keys(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        record = handler(data)
        if isinstance(data, dict) and isinstance(record, cls):
            record._keys = [k for k in data if k in cls.model_fields]
        return record

    @model_serializer(mode="wrap")
    def _given_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        keys = self._keys + [k for k in out if k in self.model_fields_set and k not in self._keys]
        return {k: out[k] for k in keys if k in out}


class StepResult(Record):
    """Fields every step's ``done.json`` has: the kind and the wall time (set by the executor)."""

    kind: str
    seconds: float | None = None

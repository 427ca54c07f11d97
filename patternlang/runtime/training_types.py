"""Typed records of one training run (:func:`~patternlang.runtime.services.training.train_one`).

A :class:`TrainRun` is what ``train_one`` returns and what its files hold: the train step's
``seed<s>/curve.json`` and each verification run's ``run.json``. Their JSON is the shape those
files always had, ``{"checkpoints": {step: path}, "loss": [...], "curve": {"step": [...],
"values": [{coordinate: value}, ...]}}``, so a file written by an older patternlang reads back with
``TrainRun.model_validate(read_json(path))``. A base module (pydantic only, no torch), so the report
can read a curve without the services.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Curve(BaseModel):
    """The tracked observables over training: ``values[i]`` maps each coordinate to its value at
    training step ``step[i]`` (``None`` where it was not finite)."""

    model_config = ConfigDict(extra="forbid")

    step: list[int] = Field(default_factory=list)
    values: list[dict[str, float | None]] = Field(default_factory=list)

    def add(self, t: int, values: dict[str, float | None]) -> None:
        """Append one evaluation (training step ``t``)."""
        self.step.append(t)
        self.values.append(values)

    def coordinates(self) -> list[str]:
        """The tracked coordinates, in the order of the first evaluation (none without one)."""
        return list(self.values[0]) if self.values else []

    def series(self, coord: str) -> list[float | None]:
        """One coordinate's value at every evaluation."""
        return [v[coord] for v in self.values]


class TrainRun(BaseModel):
    """One seed's training: the saved checkpoints (training step -> path relative to the output
    directory), the loss at every step and the tracked observables."""

    model_config = ConfigDict(extra="forbid")

    checkpoints: dict[str, str]
    loss: list[float | None]
    curve: Curve = Field(default_factory=Curve)

    def checkpoint(self, step: int) -> str:
        """The relative path of the checkpoint saved at training step ``step``."""
        return self.checkpoints[str(step)]


class Tracked(BaseModel):
    """A train step's tracked observables over its seeds (``results.json``'s ``tracked`` entry, the
    train section's table): the evaluation steps, and per seed each coordinate's value at every
    one of them."""

    model_config = ConfigDict(extra="forbid")

    steps: list[int] = Field(default_factory=list)
    seeds: dict[str, dict[str, list[float | None]]] = Field(default_factory=dict)

    @classmethod
    def of(cls, curves: dict[str, Curve]) -> Tracked:
        """From each seed's curve (seed -> :class:`Curve`; the last seed's steps are the steps)."""
        out = cls()
        for seed, curve in curves.items():
            out.steps = list(curve.step)
            out.seeds[seed] = {n: [v.get(n) for v in curve.values] for n in curve.coordinates()}
        return out


__all__ = ["Curve", "TrainRun", "Tracked"]

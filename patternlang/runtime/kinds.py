"""The step kinds: one table, :data:`KINDS`, from a plan step's ``kind`` to what the runtime does with
it — the runner that executes it, the model of its result (its ``done.json``), the renderer of its
section of ``report.md``, and how the executor treats it (``sharded``: runs on every rank of a
distributed run; ``cached``: re-used when its ``done.json`` is current). The executor
(:mod:`patternlang.runtime.executor`) and the report (:mod:`patternlang.runtime.report`) read this
table and nothing else about kinds.

A runner is named by its dotted path and imported when a step of its kind runs
(:meth:`StepKind.runner`): the runners import torch and cvxpy, which the report's sections do
without, so ``patc report DIR`` re-renders a run without loading them.

Adding a step kind ``foo`` (after the language side: its ``FooStep`` in ``plan/steps.py``, its
checking and lowering) takes its package ``steps/foo/`` (``runner.py``: ``run_foo(step, ctx) ->
FooResult``; ``section.py``: ``section(s) -> list[str]``; a docstring in ``__init__.py``),
``results_types.py`` (``FooResult``, its place in the ``AnyResult`` union and in ``SECTIONS``, the
key of ``results.json`` that holds it) and one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from patternlang.errors import PatRuntimeError
from patternlang.runtime.markdown import Section
from patternlang.runtime.results_types import (SECTIONS, ChiResult, ObserveResult, ReportResult,
                                               SampleResult, SolveResult, StepResult,
                                               TrainPoolResult, VerifyResult)
from patternlang.runtime.steps.observe import section as observe
from patternlang.runtime.steps.sample import section as sample
from patternlang.runtime.steps.solve import section as solve
from patternlang.runtime.steps.susceptibility import section as susceptibility
from patternlang.runtime.steps.train import section as train
from patternlang.runtime.steps.verify import section as verify

Runner = Callable[[Any, Any], StepResult | None]  # (step, StepContext) -> its result
Renderer = Callable[[Section], list[str]]


@dataclass(frozen=True)
class StepKind:
    """What the runtime does with the steps of one kind.

    ``run`` is the dotted path (``module:function``) of the runner: ``run(step, ctx)`` writes the
    step's files into ``ctx.dir`` and returns its ``result`` (``None`` on the other ranks of a
    ``sharded`` kind, which takes its units with ``ctx.dist.mine(...)`` and gathers them to rank 0;
    other kinds run on rank 0 alone). ``None`` for the report step, which the executor runs by
    rendering the report (:func:`patternlang.runtime.report.render`, one layer above this table).
    ``section`` renders the step's part of ``report.md`` from its typed result (a
    :class:`~patternlang.runtime.markdown.Section`: ``s.of(FooResult)``)."""

    kind: str
    run: str | None
    result: type[StepResult]
    section: Renderer | None = None
    sharded: bool = False
    cached: bool = True

    @property
    def key(self) -> str | None:
        """The section of ``results.json`` that holds this kind's results (``None``: not there)."""
        return SECTIONS.get(self.kind)

    def runner(self) -> Runner:
        """The runner function, imported on first use."""
        module, name = self.run.split(":")
        return getattr(importlib.import_module(module), name)


_STEPS = "patternlang.runtime.steps"

KINDS: dict[str, StepKind] = {k.kind: k for k in (
    StepKind("train", f"{_STEPS}.train.runner:run_train", TrainPoolResult, train.section,
             sharded=True),
    StepKind("observe", f"{_STEPS}.observe.runner:run_observe", ObserveResult, observe.section),
    StepKind("sample", f"{_STEPS}.sample.runner:run_sample", SampleResult, sample.section,
             sharded=True),
    StepKind("susceptibility", f"{_STEPS}.susceptibility.runner:run_susceptibility", ChiResult,
             susceptibility.section),
    StepKind("solve", f"{_STEPS}.solve.runner:run_solve", SolveResult, solve.section),
    StepKind("verify", f"{_STEPS}.verify.runner:run_verify", VerifyResult, verify.section,
             sharded=True),
    StepKind("report", None, ReportResult, cached=False),
)}


def kind_of(step: Any) -> StepKind:
    """The :class:`StepKind` of a plan step; a kind this runtime does not know is a runtime error."""
    found = KINDS.get(step.kind)
    if found is None:
        raise PatRuntimeError(step.id, f"no runner for step kind {step.kind!r}",
                              "this plan was made by a newer patternlang; upgrade")
    return found

"""The step kinds: one table, :data:`KINDS`, from a plan step's ``kind`` to what the runtime does with
it — the runner that executes it, the model of its result (its ``done.json``), the renderer of its
section of ``report.md``, and how the executor treats it (``sharded``: runs on every rank of a
distributed run; ``cached``: re-used when its ``done.json`` is current). The executor
(:mod:`patternlang.runtime.executor`) and the report (:mod:`patternlang.runtime.report`) read this
table and nothing else about kinds.

Adding a step kind ``foo`` (after the language side: its ``FooStep`` in ``plan/ir.py`` and its
lowering) touches three runtime files: ``steps/foo.py`` (``run_foo(step, ctx) -> FooResult`` and
``section(s) -> list[str]``; a package ``steps/foo/`` when it needs private helpers),
``results_types.py`` (``FooResult``, its place in the ``AnyResult`` union and in ``SECTIONS``, the
key of ``results.json`` that holds it) and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from patternlang.errors import PatRuntimeError
from patternlang.runtime.context import StepContext
from patternlang.runtime.markdown import Section
from patternlang.runtime.results_types import (SECTIONS, ChiResult, ObserveResult, ReportResult,
                                               SampleResult, SolveResult, StepResult,
                                               TrainPoolResult, VerifyResult)
from patternlang.runtime.steps import observe, train
from patternlang.runtime.steps.sample import runner as sample
from patternlang.runtime.steps.sample import section as sample_section
from patternlang.runtime.steps.solve import runner as solve
from patternlang.runtime.steps.solve import section as solve_section
from patternlang.runtime.steps.susceptibility import runner as susceptibility
from patternlang.runtime.steps.susceptibility import section as susceptibility_section
from patternlang.runtime.steps.verify import runner as verify
from patternlang.runtime.steps.verify import section as verify_section

Runner = Callable[[Any, StepContext], StepResult | None]
Renderer = Callable[[Section], list[str]]


@dataclass(frozen=True)
class StepKind:
    """What the runtime does with the steps of one kind.

    ``run(step, ctx)`` writes the step's files into ``ctx.dir`` and returns its ``result`` (``None``
    on the other ranks of a ``sharded`` kind, which takes its units with ``ctx.dist.mine(...)`` and
    gathers them to rank 0; other kinds run on rank 0 alone). ``None`` for the report step, which
    the executor runs by rendering the report (:func:`patternlang.runtime.report.render`, one layer
    above this table). ``section`` renders the step's part of ``report.md`` from its entry in
    ``results.json``."""

    kind: str
    run: Runner | None
    result: type[StepResult]
    section: Renderer | None = None
    sharded: bool = False
    cached: bool = True

    @property
    def key(self) -> str | None:
        """The section of ``results.json`` that holds this kind's results (``None``: not there)."""
        return SECTIONS.get(self.kind)


KINDS: dict[str, StepKind] = {k.kind: k for k in (
    StepKind("train", train.run_train, TrainPoolResult, train.section, sharded=True),
    StepKind("observe", observe.run_observe, ObserveResult, observe.section),
    StepKind("sample", sample.run_sample, SampleResult, sample_section.section, sharded=True),
    StepKind("susceptibility", susceptibility.run_susceptibility, ChiResult,
             susceptibility_section.section),
    StepKind("solve", solve.run_solve, SolveResult, solve_section.section),
    StepKind("verify", verify.run_verify, VerifyResult, verify_section.section, sharded=True),
    StepKind("report", None, ReportResult, cached=False),
)}


def kind_of(step: Any) -> StepKind:
    """The :class:`StepKind` of a plan step; a kind this runtime does not know is a runtime error."""
    found = KINDS.get(step.kind)
    if found is None:
        raise PatRuntimeError(step.id, f"no runner for step kind {step.kind!r}",
                              "this plan was made by a newer patternlang; upgrade")
    return found

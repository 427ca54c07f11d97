"""``report``: results.json, figures and report.md (re-renderable with ``patc report DIR``)."""

from __future__ import annotations

from patternlang.plan.ir import ReportStep
from patternlang.runtime.context import StepContext, runner
from patternlang.runtime.report import render
from patternlang.runtime.results_types import ReportResult


@runner("report")
def run_report(step: ReportStep, ctx: StepContext) -> ReportResult:
    path = render(ctx.run.root)
    return ReportResult(report=str(path.relative_to(ctx.run.root)))

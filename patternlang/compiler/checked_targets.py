"""Which χ rows a sample step checks: the raise / lower / reach targets of the patternings
downstream of it.

``step = auto`` judges its plateau on λ̂ and on these rows, and ``draws = auto(...)`` stops when
each of them is resolved (:mod:`patternlang.runtime.steps.sample.draws_auto`); both run inside the sample
step, before any patterning, so the compiler writes the targets into the step
(:attr:`~patternlang.plan.ir.SampleStep.targets`), and so into its hash: a changed target is a
changed stopping rule. ``hold`` targets (a row that should not move) and ``move`` targets (a
principal direction, no row) are not checked, nor a target that reads another susceptibility's
observables (its row is not this step's alone).
"""

from __future__ import annotations

from patternlang.plan.ir import CheckedTarget, ObsExpr, SampleStep, SolveStep, Step, SusceptibilityStep

CHECKED_KINDS = ("raise", "lower", "reach")


def _sources(node: ObsExpr) -> set[str | None]:
    """The susceptibility ids the ``ref`` nodes of an expression name (None: unqualified)."""
    own = {node.source} if node.op == "ref" else set()
    return own.union(*(_sources(o) for o in node.operands)) if node.operands else own


def checked_targets(sample: SampleStep, steps: list[Step]) -> list[CheckedTarget]:
    """The targets whose rows ``sample``'s susceptibility produces, from every solve that reads it."""
    sus = [s.id for s in steps if isinstance(s, SusceptibilityStep) and s.sample == sample.id]
    out = []
    for solve in (s for s in steps if isinstance(s, SolveStep)):
        for sid in (i for i in sus if i in solve.susceptibilities):
            out += [CheckedTarget(solve=solve.id, susceptibility=sid, target=t) for t in solve.targets
                    if t.kind in CHECKED_KINDS and _sources(t.expr) <= {None, sid}]
    return out


def attach_checked_targets(steps: list[Step]) -> list[Step]:
    """``steps`` with :attr:`SampleStep.targets` set on the sample steps that use ``step = auto`` or
    ``draws = auto(...)`` (left empty elsewhere, so other plans and their hashes are unchanged)."""
    out: list[Step] = []
    for s in steps:
        if isinstance(s, SampleStep) and (s.sampler.step == "auto" or s.sampler.draws_auto is not None):
            s = s.model_copy(update={"targets": checked_targets(s, steps)})
        out.append(s)
    return out

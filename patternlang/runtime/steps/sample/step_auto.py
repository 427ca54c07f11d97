"""``step = auto`` in a sampler block: scan ε at the first center before sampling.

The scan (:func:`patternlang.engine.sampler.step_scan.scan_step_size`) runs the step's own sampler
settings (chains, γ, nβ, batch, preconditioner, seed) for short runs down a geometric grid from
``AUTO_MAX_STEP`` and picks the largest ε of the first plateau where λ̂ stops depending on ε — and,
when the step feeds a patterning (:attr:`SampleStep.targets`), where the targeted χ rows stop
depending on it too (each point then observes, :class:`TargetProbe`); every
center of the step then samples at that one ε, so their LLCs and χ compare, with a burn-in of at
least 2/(εγ) steps (the scan's equilibration time; the spec's burn-in when longer). The scan is saved as
``step_scan.json`` (reused on ``--resume``) and goes into the step's summary (``results.json``);
"no plateau" is a warning of the step. Every rank computes the same scan (same seeds), so a
distributed run needs no extra message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from patternlang.plan.ir import SampleStep
from patternlang.runtime.accel import with_precision
from patternlang.runtime.context import StepContext
from patternlang.runtime.rundir import StepDir, atomic_write_json, read_json
from patternlang.runtime.sample_types import StepScanRecord
from patternlang.runtime.services.build import build_model, derive_seed, load_weights
from patternlang.runtime.services.sampling import (mixture_batches, sgld_config, step_observer,
                                                   with_step)
from patternlang.runtime.services.target_rows import chi_of, target_rows

AUTO_MAX_STEP = 1e-2
SCAN_DRAWS = 200


def resolve_auto_step(step: SampleStep, ctx: StepContext, center_path: Path, components: dict,
                      store: StepDir | None = None) -> tuple[SampleStep, StepScanRecord | None]:
    """``step`` with its ε fixed (unchanged when it is a number) and the scan's record. With a
    chunk ``store`` (``draws = auto``) the scan is kept there, and re-used by any run sharing it."""
    if step.sampler.step != "auto":
        return step, None
    path = (store or ctx.dir).file("step_scan.json")
    if (ctx.resume or store is not None) and path.exists():
        scan = read_json(path)
    else:
        scan = _scan(step, ctx, center_path, components)
        atomic_write_json(path, scan)
    record = StepScanRecord.model_validate(scan)
    return with_step(step, record.chosen), record


class TargetProbe:
    """The scan's :class:`~patternlang.engine.sampler.step_scan.RowProbe` for a sample step with
    targets: each point observes the step's observables, and its rows are the targeted χ rows
    (:func:`~patternlang.runtime.services.target_rows.target_rows`) from that point's co-moments."""

    def __init__(self, step: SampleStep, ctx: StepContext, model: Any, components: dict):
        self.step, self.ctx, self.model, self.components = step, ctx, model, components
        self.last: Any = None

    def observer(self) -> Any:
        self.last = step_observer(self.step, self.ctx, self.model, self.components,
                                  dict(self.step.mixture.weights))
        return with_precision(self.last, self.ctx.device, self.ctx.options.autocast)

    def rows(self, observer: Any) -> dict[str, dict]:
        moments = self.last.reset()
        chi = chi_of(self.step, [moments], self.step.sampler.nbeta)
        return {r.label: r.to_dict() for r in target_rows(self.step, chi, self.ctx.plan)}


def _scan(step: SampleStep, ctx: StepContext, center_path: Path, components: dict) -> dict:
    from patternlang.engine.sampler.step_scan import scan_step_size
    from patternlang.models.losses import model_loss_fn

    s = step.sampler
    model = load_weights(build_model(step.model, ctx), center_path)
    cfg = sgld_config(s.model_copy(update={"step": AUTO_MAX_STEP}),
                      derive_seed("sgld-scan", ctx.plan.seed, s.seed))
    batch_fn = mixture_batches(components, dict(step.mixture.weights), s.batch, ctx.device)
    # under draws = auto the scan follows the chunk, not the budget, so a larger max re-uses it
    base = s.draws_auto.chunk if s.draws_auto is not None else s.draws
    draws = max(SCAN_DRAWS, min(base, 4 * SCAN_DRAWS))
    probe = TargetProbe(step, ctx, model, components) if step.targets else None
    ctx.progress.info(f"{step.id}: step = auto, scanning from {AUTO_MAX_STEP:g} down ({draws} draws each"
                      + (", with the targeted chi rows)" if probe else ")"))
    scan = scan_step_size(model, model_loss_fn(cast(str, model.task)), batch_fn, cfg, max_step=AUTO_MAX_STEP,
                          draws=draws, rows=probe)
    ctx.progress.info(f"{step.id}: step = auto chose {scan.chosen:.3g}")
    return scan.to_dict()

"""``step = auto`` in a sampler block: scan ε at the first center before sampling.

The scan (:func:`patternlang.engine.sampler.step_scan.scan_step_size`) runs the step's own sampler
settings (chains, γ, nβ, batch, preconditioner, seed) for short runs down a geometric grid from
``AUTO_MAX_STEP`` and picks the largest ε of the first plateau where λ̂ stops depending on ε; every
center of the step then samples at that one ε, so their LLCs and χ compare. The scan is saved as
``step_scan.json`` (reused on ``--resume``) and goes into the step's summary (``results.json``);
"no plateau" is a warning of the step. Every rank computes the same scan (same seeds), so a
distributed run needs no extra message.
"""

from __future__ import annotations

from pathlib import Path

from patternlang.plan.ir import SampleStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.rundir import atomic_write_json, read_json
from patternlang.runtime.steps.common import build_model, derive_seed, load_weights

AUTO_MAX_STEP = 1e-2
SCAN_DRAWS = 200


def resolve_auto_step(step: SampleStep, ctx: StepContext, center_path: Path, components: dict,
                      batch_fn) -> tuple[SampleStep, dict | None]:
    """``step`` with its ε fixed (unchanged when it is a number) and the scan's summary."""
    if step.sampler.step != "auto":
        return step, None
    path = ctx.dir.file("step_scan.json")
    if ctx.resume and path.exists():
        scan = read_json(path)
    else:
        scan = _scan(step, ctx, center_path, components, batch_fn)
        atomic_write_json(path, scan)
    sampler = step.sampler.model_copy(update={"step": float(scan["chosen"])})
    return step.model_copy(update={"sampler": sampler}), scan


def _scan(step: SampleStep, ctx: StepContext, center_path: Path, components: dict, batch_fn) -> dict:
    from patternlang.engine.sampler.sgld import SGLDConfig
    from patternlang.engine.sampler.step_scan import scan_step_size
    from patternlang.models.losses import model_loss_fn

    s = step.sampler
    model = load_weights(build_model(step.model, ctx), center_path)
    cfg = SGLDConfig(step_size=AUTO_MAX_STEP, gamma=s.gamma, nbeta=s.nbeta, num_chains=s.chains,
                     seed=derive_seed("sgld-scan", ctx.plan.seed, s.seed), restrict=tuple(s.restrict),
                     preconditioner=s.preconditioner)
    draws = max(SCAN_DRAWS, min(s.draws, 4 * SCAN_DRAWS))
    ctx.progress.info(f"{step.id}: step = auto, scanning from {AUTO_MAX_STEP:g} down ({draws} draws each)")
    scan = scan_step_size(model, model_loss_fn(model.task), batch_fn, cfg, max_step=AUTO_MAX_STEP, draws=draws)
    ctx.progress.info(f"{step.id}: step = auto chose {scan.chosen:.3g}")
    return scan.to_dict()

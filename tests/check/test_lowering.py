"""Lowering resolves every default once: the plan holds concrete numbers."""

from __future__ import annotations

import math

from patternlang.compiler import compile_source
from patternlang.runtime.services.sampling import sgld_config
from .util import HERE

QUICK = (HERE / "fixtures" / "quickstart_v0.pat").read_text(encoding="utf-8")


def _sampler(text: str):
    return next(s for s in compile_source(text, "q.pat").steps if s.kind == "sample").sampler


def test_nbeta_auto_becomes_b_over_log_b_of_the_sampler_batch():
    line = next(x for x in QUICK.splitlines() if x.startswith("sampler "))
    for nbeta, batch, want in (("auto", 16, 16 / math.log(16)), ("auto", 64, 64 / math.log(64)),
                               ("12.5", 64, 12.5)):
        body = line.split("{", 1)[1].rsplit("}", 1)[0]
        kept = " ".join(p for p in body.split("  ") if not p.strip().startswith(("nbeta", "batch")))
        text = QUICK.replace(line, f"sampler local {{ {kept}  nbeta = {nbeta}  batch = {batch} }}")
        s = _sampler(text)
        assert s.nbeta == want and s.batch == batch
        assert '"nbeta": null' not in compile_source(text, "q.pat").to_json()


def test_the_engine_config_is_the_plan_sampler_under_the_engine_names():
    s = _sampler(QUICK)
    cfg = sgld_config(s, seed=7, keep_observations=True)
    assert (cfg.step_size, cfg.gamma, cfg.nbeta) == (s.step, s.gamma, s.nbeta)
    assert (cfg.num_chains, cfg.num_draws, cfg.burnin, cfg.thin) == (s.chains, s.draws, s.burnin,
                                                                      s.thin)
    assert cfg.seed == 7 and cfg.keep_observations and list(cfg.restrict) == s.restrict


def _sample_step(text: str):
    return next(s for s in compile_source(text, "q.pat").steps if s.kind == "sample")


def test_draws_auto_lowers_budget_settings_and_the_targeted_rows():
    line = next(x for x in QUICK.splitlines() if x.startswith("sampler "))
    auto = QUICK.replace("draws = 60", "draws = auto(z=2.5, max=400, chunk=50)")
    step = _sample_step(auto)
    assert step.sampler.draws == 400 and step.sampler.draws_auto.model_dump() == {"z": 2.5, "chunk": 50}
    # the raise target is checked, the hold target is not; both name the solve and susceptibility
    assert [(t.target.kind, t.target.label, t.solve) for t in step.targets] == \
        [("raise", "raise mean(ih)", "solve.accelerate")]
    default = _sample_step(QUICK.replace("draws = 60", "draws = auto(max=60)")).sampler
    assert default.draws_auto.model_dump() == {"z": 3.0, "chunk": 60}  # chunk: min(100, max)
    # a fixed number of draws leaves the plan as it was: no targets, no draws_auto in the JSON
    assert not _sample_step(QUICK).targets and "draws_auto" not in compile_source(QUICK, "q.pat").to_json()
    # the budget, z and the targets enter the sample step's hash
    hashes = {text: compile_source(text, "q.pat").hashes()["sample.chi"] for text in (
        auto, auto.replace("max=400", "max=500"), auto.replace("z=2.5", "z=3"),
        auto.replace("raise mean(ih) by 0.1", "raise mean(ih) by 0.2"))}
    assert len(set(hashes.values())) == 4 and line in QUICK

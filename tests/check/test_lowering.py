"""Lowering resolves every default once: the plan holds concrete numbers."""

from __future__ import annotations

import math

from patternlang.compiler import compile_source
from patternlang.runtime.sampling import sgld_config
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

"""Run options: defaults from the environment, and the options that change numbers in the hashes."""

from __future__ import annotations

from patternlang.compiler import compile_file
from patternlang.plan.ir import Plan
from patternlang.runtime.options import RunOptions

from .tiny import write_spec


def test_options_that_change_numbers_enter_the_sampling_hashes(tmp_path):
    plan = compile_file(write_spec(tmp_path))
    plain = plan.hashes()
    assert RunOptions().numerics() == {} and RunOptions(chain_group=3, workers=4).numerics() == {}
    numerics = RunOptions(autocast="bf16", compile="1").numerics()
    assert numerics == {"autocast": "bf16", "compile": "inductor"}
    bf16 = plan.model_copy(update={"numeric_options": numerics})
    changed = {k for k, v in bf16.hashes().items() if v != plain[k]}
    # training is untouched; the sample step and everything that reads it get new directories
    assert changed == {"sample.chi", "susceptibility.chi", "solve.up", "verify.up", "report"}
    # the plan (plan.json in the run directory) carries them, so `patc report` finds the steps
    assert Plan.from_json(bf16.to_json()).hashes() == bf16.hashes()
    assert "numeric_options" not in plan.to_json()  # absent while empty: default plans are unchanged


def test_environment_fills_only_what_is_not_given():
    env = {"PATTERNLANG_WORKERS": "3", "PATTERNLANG_CHAIN_GROUP": "5", "PATTERNLANG_COMPILE": "0"}
    opts = RunOptions.from_env(env, workers=1, device="cpu")
    assert (opts.workers, opts.chain_group, opts.compile, opts.device) == (1, 5, None, "cpu")
    assert RunOptions.from_env({}) == RunOptions()

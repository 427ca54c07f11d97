"""The IR is split by concept (plan/base, settings, observables, targets, steps); ``plan/ir.py``
re-exports every public name, since code, pickles and docs import them from there."""

import importlib
import pickle

from patternlang.compiler import compile_source
from patternlang.plan import ir

from .runtime.tiny import TINY

PARTS = ("base", "settings", "observables", "targets", "steps")


def test_ir_reexports_every_public_name_of_the_ir_modules():
    for part in PARTS:
        mod = importlib.import_module(f"patternlang.plan.{part}")
        public = {n for n, v in vars(mod).items() if not n.startswith("_")  # the IR's classes
                  and isinstance(v, type) and v.__module__ == mod.__name__}
        missing = public - set(ir.__all__)
        assert not missing, f"plan/{part}.py: {sorted(missing)} not re-exported by plan/ir.py"
    for name in ir.__all__:
        assert hasattr(ir, name), name


def test_a_plan_pickles_and_round_trips_through_json():
    plan = compile_source(TINY.split("patterning up")[0])
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert ir.Plan.from_json(plan.to_json()) == plan
    assert ir.Plan.from_json(plan.to_json()).hashes() == plan.hashes()

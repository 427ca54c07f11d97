"""The table of step kinds (runtime/kinds.py) is complete, its runners resolve, and the report
reads it without loading the runners (``patc report`` imports neither torch nor cvxpy)."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

from patternlang.plan.ir import Step
from patternlang.runtime.kinds import KINDS
from patternlang.runtime.results_types import SECTIONS, AnyResult

ROOT = Path(__file__).resolve().parents[2]


def _kinds_of(union) -> dict[str, type]:
    members = typing.get_args(typing.get_args(union)[0])
    return {m.model_fields["kind"].default: m for m in members}


def test_every_step_kind_of_the_plan_has_its_runner_result_and_section():
    plan_kinds = set(_kinds_of(Step))
    results = _kinds_of(AnyResult)
    assert set(KINDS) == plan_kinds == set(results)
    for name, kind in KINDS.items():
        assert kind.kind == name and kind.result is results[name]
        assert kind.key == SECTIONS.get(name)
        if kind.run is None:  # the report step: the executor renders the report
            assert name == "report" and not kind.cached
            continue
        assert kind.run.startswith(f"patternlang.runtime.steps.{name}.runner:")
        assert callable(kind.runner()) and kind.section is not None and kind.key is not None


def test_the_report_loads_no_runner():
    probe = ("import sys, patternlang.runtime.report; "
             "print(sorted(m for m in ('torch', 'cvxpy') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATTERNLANG_NO_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout

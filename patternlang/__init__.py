"""patternlang: a declarative language and compiler for patterning neural networks.

Write a ``.pat`` spec (model, data components, observables, targets, constraints); ``patc compile``
lowers it to a :class:`~patternlang.plan.ir.Plan`; ``patc run`` executes it: training, localized SGLD,
susceptibilities chi, a constrained inverse solve for new data weights, and verification by retraining.

The public API (everything else is reachable through its module, but may change)::

    import patternlang
    plan = patternlang.compile_file("specs/quickstart.pat")          # spec -> Plan
    res = patternlang.run("specs/quickstart.pat", out="runs/qs",     # spec -> run directory
                          options=patternlang.RunOptions(device="cpu"))
    res.weights("solve.accelerate"), res.chi("susceptibility.chi")   # Results: results.json

Names are imported on first use, so ``import patternlang`` stays cheap (no torch).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "compile_file": "patternlang.compiler",
    "check_file": "patternlang.compiler",
    "run": "patternlang.api",
    "Results": "patternlang.results",
    "RunOptions": "patternlang.runtime.options",
    "Plan": "patternlang.plan.ir",
    "PatError": "patternlang.errors",
    "PatSpecError": "patternlang.errors",
    "PatRuntimeError": "patternlang.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'patternlang' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

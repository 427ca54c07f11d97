"""``draws`` in a sampler block: a number of kept draws per chain, or ``auto(z=3, max=N)``.

``draws = auto(z=3, max=2000, chunk=100)`` samples in chunks of ``chunk`` draws until the χ
rows the patternings downstream target are resolved (some component with |z| >= ``z``) or ``max``
draws are spent (:mod:`patternlang.runtime.steps.sample.draws_auto`). ``z`` defaults to 3 (the solver's
"resolved"), ``chunk`` to 100 (or ``max`` when smaller); ``max`` is required: it is the budget.
"""

from __future__ import annotations

import math

from patternlang.check.scope import State, did_you_mean
from patternlang.check.values import AnyV, AutoCallV, AutoV, ConstV, ErrorV, V, describe
from patternlang.plan.ir import DrawsAuto

DEFAULT_CHUNK = 100
EXAMPLE = "draws = auto(z=3, max=2000)"
_HINTS = {
    "z": "z is the |chi / SE| each targeted row must reach (3 is the solver's 'resolved'): a number > 0",
    "max": "max is the budget of kept draws per chain: a whole number >= 1, e.g. max = 2000",
    "chunk": "chunk is the draws between two checks: a whole number >= 1, at most max",
}


def read_draws(s: State, v: V | None, default: int) -> tuple[int, DrawsAuto | None] | None:
    """``(draws, draws_auto)`` of a sampler block (``draws`` is the budget under auto), or None
    after reporting an error. ``v`` is the evaluated setting (None when absent)."""
    if v is None:
        return default, None
    if isinstance(v, AutoV):
        s.error("PAT303", "draws = auto needs a budget", v.span,
                f"write {EXAMPLE}: sample until the targeted chi rows reach |z| >= 3, at most 2000 draws")
        return None
    if not isinstance(v, AutoCallV):
        if isinstance(v, (ErrorV, AnyV)):
            return None
        if not (isinstance(v, ConstV) and v.type == "int") or v.value < 1:
            s.error("PAT301" if not isinstance(v, ConstV) or v.type != "int" else "PAT302",
                    f"draws must be a whole number >= 1 or auto(...), found {describe(v)}", v.span,
                    f"kept draws per chain, e.g. draws = 200, or {EXAMPLE}")
            return None
        return int(v.value), None
    return _auto(s, v)


def _auto(s: State, v: AutoCallV) -> tuple[int, DrawsAuto] | None:
    got: dict[str, V] = {}
    ok = True
    for name, span, value in v.args:
        if name is None or name not in _HINTS or name in got:
            ok = False
            if name is None:
                s.error("PAT304", "auto(...) takes named settings", span, f"write {EXAMPLE}")
            elif name in got:
                s.error("PAT304", f"'{name}' is given twice", span)
            else:
                s.error("PAT203", f"auto(...) of draws has no setting '{name}'", span,
                        did_you_mean(name, list(_HINTS)) or "its settings: z, max, chunk")
            continue
        got[name] = value
    if "max" not in got:
        if ok:
            s.error("PAT303", "draws = auto(...) needs max, the budget of draws", v.span, f"write {EXAMPLE}")
        return None
    z = _number(s, got.get("z"), "z", 3.0, integer=False)
    top = _number(s, got["max"], "max", None, integer=True)
    chunk = _number(s, got.get("chunk"), "chunk", None, integer=True)
    if not ok or z is None or top is None or (chunk is None and "chunk" in got):
        return None
    chunk = int(chunk) if chunk is not None else min(DEFAULT_CHUNK, int(top))
    if chunk > top:
        s.error("PAT310", f"chunk = {chunk} is larger than max = {int(top)}", got["chunk"].span,
                _HINTS["chunk"])
        return None
    return int(top), DrawsAuto(z=float(z), chunk=chunk)


def _number(s: State, v: V | None, name: str, default: float | None, integer: bool) -> float | None:
    """A setting of auto(...): a finite number > 0 (a whole number when ``integer``)."""
    if v is None:
        return default
    if isinstance(v, (ErrorV, AnyV)):
        return None
    ok_type = isinstance(v, ConstV) and (v.type == "int" or (v.type == "float" and not integer))
    if not ok_type:
        s.error("PAT301", f"{name} of draws = auto(...) must be "
                f"{'a whole number' if integer else 'a number'}, found {describe(v)}", v.span, _HINTS[name])
        return None
    assert isinstance(v, ConstV)
    if not (math.isfinite(float(v.value)) and v.value > 0):
        s.error("PAT302", f"{name} of draws = auto(...) must be > 0, found {v.value}", v.span, _HINTS[name])
        return None
    return float(v.value)

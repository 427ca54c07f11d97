"""The ``arms`` setting of a verify block: named arms, ``random(K)`` and ``regression(K, ...)``.

``arms = [baseline, patterned, opposite, random(12), regression(16)]`` reads as the named arms
(``baseline``, ``patterned``, ``opposite``, ``control``, ``orthogonal``), K seeded random steps of
the solved step's length (``random(K)``) and the black-box baseline (``regression(K, steps=S,
model=linear|loglinear|auto)``: K proxy trainings of S steps each; S = 0, the default, spends what
sampling and χ spent). See ``docs/validation.md``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from patternlang.check import coerce
from patternlang.check.blocks import BlockReader
from patternlang.plan.ir import RegressionArm, VerifyStep
from patternlang.registry import Range
from patternlang.syntax import ast as A

#: the named arms
NAMED = typing.get_args(typing.get_args(VerifyStep.model_fields["arms"].annotation)[0])
_MODELS = typing.get_args(RegressionArm.model_fields["model"].annotation)
_HINT = ("arms are among: " + ", ".join(NAMED) + ", random(K), regression(K, steps=S, "
         "model=auto|linear|loglinear)")


@dataclass
class Arms:
    """The arms of a verify block as the plan holds them."""

    named: list[str]
    random: int = 0
    regression: RegressionArm | None = None


def read_arms(r: BlockReader) -> Arms | None:
    """Read ``arms`` (default: every named arm); ``None`` after reporting an error."""
    raw = r.raw("arms")
    if raw is None:
        return Arms(list(NAMED))
    items = raw.items if isinstance(raw, A.ListExpr) else (raw,)
    out = Arms([])
    ok = True
    for it in items:
        if isinstance(it, A.Name) and it.id in NAMED:
            out.named.append(it.id)
        elif isinstance(it, A.Call) and isinstance(it.func, A.Name) and it.func.id == "random":
            k = _count(r, it, "random")
            ok &= k is not None
            out.random = k or 0
        elif isinstance(it, A.Call) and isinstance(it.func, A.Name) and it.func.id == "regression":
            out.regression = _regression(r, it)
            ok &= out.regression is not None
        else:
            r.s.error("PAT301", f"unknown arm {A.show(it)}", it.span, _HINT)
            ok = False
    return out if ok else None


def _int_arg(r: BlockReader, arg: A.Arg, what: str, rng: Range) -> int | None:
    return coerce.as_int(r.s, r.ev.eval(arg.value, r.module, {}), what, rng)


def _count(r: BlockReader, call: A.Call, name: str) -> int | None:
    if len(call.args) != 1 or call.args[0].name is not None:
        r.s.error("PAT304", f"{name}(K) takes one argument, the number of random arms", call.span,
                  f"write {name}(12)")
        return None
    return _int_arg(r, call.args[0], f"{name}(K)", Range(ge=1, le=1000))


def _regression(r: BlockReader, call: A.Call) -> RegressionArm | None:
    pos = [a for a in call.args if a.name is None]
    named = {a.name: a for a in call.args if a.name is not None}
    bad = [n for n in named if n not in ("runs", "steps", "model")]
    if len(pos) > 1 or bad or (pos and "runs" in named) or not (pos or "runs" in named):
        r.s.error("PAT304", "regression takes the number of proxy runs and optionally steps= and "
                  "model=", call.span, "write regression(16) or regression(16, steps=150, "
                  "model=linear)")
        return None
    runs = _int_arg(r, pos[0] if pos else named["runs"], "regression(runs)", Range(ge=3, le=1000))
    steps = _int_arg(r, named["steps"], "regression(steps=)", Range(ge=0)) \
        if "steps" in named else 0
    model = "auto"
    if "model" in named:
        v = named["model"].value
        word = v.id if isinstance(v, A.Name) else v.value if isinstance(v, A.Str) else None
        if word not in _MODELS:
            r.s.error("PAT301", f"regression model must be one of {', '.join(_MODELS)}, found "
                      f"{A.show(v)}", v.span, "model=linear (ridge) or model=loglinear (mixing law)")
            return None
        model = word
    if runs is None or steps is None:
        return None
    return RegressionArm(runs=runs, steps=steps, model=model)  # type: ignore[arg-type]

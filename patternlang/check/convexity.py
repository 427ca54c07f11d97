"""Constraints on the new weights h' must be convex (cvxpy's DCP idea, in miniature).

Every side of a comparison is classified: *affine* in h' (:class:`LinV`, e.g. ``weight(a) +
weight(b)``), a trust region (:class:`TrustV`, ``kl(base)`` or ``l2(base)``, convex), or
:class:`CurvedV` with a curvature (convex / concave / unknown) and the smallest part that made it so.
``f <= g`` is convex when ``f - g`` is convex; ``==`` needs both sides affine. The solver takes
affine constraints, ``fixed(...)`` and a trust region on its own (``kl(base) <= 0.2``); convex
constraints of other shapes are reported as such (PAT402), non-convex ones name the culprit (PAT401).
"""

from __future__ import annotations

from patternlang.check.scope import State
from patternlang.check.values import AnyV, ConstV, CurvedV, ErrorV, FixedV, LinV, TrustV, V, describe
from patternlang.errors import Span
from patternlang.plan.ir import ConstraintSpec, SourceLoc
from patternlang.syntax import ast as A

_FLIP = {"<=": ">=", ">=": "<=", "==": "=="}


def _lin(x: V) -> V:
    return LinV(x.span, {}, float(x.value)) if isinstance(x, ConstV) else x


def _curved(x: V) -> CurvedV | None:
    if isinstance(x, TrustV):
        return CurvedV(x.span, "convex", f"{x.kind}({x.mixture}) is convex", x.span)
    return x if isinstance(x, CurvedV) else None


def _scale(x: V, c: float, span: Span) -> V:
    if isinstance(x, LinV):
        return LinV(span, {k: c * v for k, v in x.coeffs.items()}, c * x.const)
    cv = _curved(x)
    assert cv is not None
    if c == 0:
        return LinV(span, {}, 0.0)
    flip = {"convex": "concave", "concave": "convex", "unknown": "unknown"}
    return CurvedV(span, cv.curvature if c > 0 else flip[cv.curvature], cv.why, cv.part)


def weight_arith(op: str, span: Span, operands: list[V]) -> V:
    xs = [_lin(x) for x in operands]
    if op == "neg":
        return _scale(xs[0], -1.0, span)
    a, b = xs
    if op in ("add", "sub"):
        if op == "sub":
            b = _scale(b, -1.0, b.span)
        if isinstance(a, LinV) and isinstance(b, LinV):
            coeffs = dict(a.coeffs)
            for k, v in b.coeffs.items():
                coeffs[k] = coeffs.get(k, 0.0) + v
            return LinV(span, coeffs, a.const + b.const)
        ca, cb = _curved(a), _curved(b)
        curv = {ca.curvature if ca else "affine", cb.curvature if cb else "affine"} - {"affine"}
        first = ca or cb
        assert first is not None
        if len(curv) == 1:
            return CurvedV(span, curv.pop(), first.why, first.part)
        return CurvedV(span, "unknown", "a convex part plus a concave part", span)
    if op == "mul":
        for x, y in ((a, b), (b, a)):
            if isinstance(x, LinV) and not x.coeffs:
                return _scale(y, x.const, span)
        return CurvedV(span, "unknown", "it multiplies two expressions in the weights", span)
    if isinstance(b, LinV) and not b.coeffs:  # div by a constant
        if b.const == 0:
            return CurvedV(span, "unknown", "it divides by zero", b.span)
        return _scale(a, 1.0 / b.const, span)
    return CurvedV(span, "unknown", "it divides by an expression in the weights", span)


def check_constraint(s: State, item, values: list[V], file_loc: SourceLoc) -> list[ConstraintSpec]:
    """``item`` is an AST constraint (a :class:`Compare` or a bare call); ``values`` its evaluated
    operands (one for a bare call). Returns the lowered constraints (empty after an error)."""
    label = A.show(item)
    if not isinstance(item, A.Compare):
        v = values[0]
        if isinstance(v, FixedV):
            return [ConstraintSpec(kind="fixed", components=list(v.components), label=label, loc=file_loc)]
        if not isinstance(v, (ErrorV, AnyV)):
            s.error("PAT301", f"a constraint is a comparison or fixed(...), found {describe(v)}", item.span,
                    "e.g. weight(uniform) >= 0.05, kl(base) <= 0.2, fixed(uniform)")
        return []
    out: list[ConstraintSpec] = []
    for i, op in enumerate(item.ops):
        lhs, rhs = values[i], values[i + 1]
        if any(isinstance(x, (ErrorV, AnyV)) for x in (lhs, rhs)):
            continue
        op = {"<": "<=", ">": ">="}.get(op, op)
        spec = _pair(s, _lin(lhs), op, _lin(rhs), item, label, file_loc)
        if spec is not None:
            out.append(spec)
    return out


def _pair(s: State, lhs: V, op: str, rhs: V, item: A.Compare, label: str, loc: SourceLoc):
    for x in (lhs, rhs):
        if not isinstance(x, (LinV, TrustV, CurvedV)):
            s.error("PAT301", f"constraints compare weights, found {describe(x)}", x.span,
                    "use weight(c), kl(m), l2(m) and numbers")
            return None
    if isinstance(rhs, TrustV) and isinstance(lhs, LinV):
        lhs, rhs, op = rhs, lhs, _FLIP[op]
    if isinstance(lhs, TrustV) and isinstance(rhs, LinV) and not rhs.coeffs:
        return _trust(s, lhs, op, rhs, item, label, loc)
    if isinstance(lhs, LinV) and isinstance(rhs, LinV):
        return _linear(s, lhs, op, rhs, item, label, loc)
    diff = weight_arith("sub", item.span, [lhs, rhs])
    assert isinstance(diff, CurvedV)
    ok = {"<=": ("convex",), ">=": ("concave",), "==": ()}[op]
    if diff.curvature in ok:
        s.error("PAT402", f"'{label}' is convex, but the solver takes a trust region only on its own",
                item.span, "write it as kl(base) <= c or l2(base) <= c, and bounds as separate constraints")
        return None
    why = diff.why if diff.curvature == "unknown" else \
        f"{diff.why}, and a {diff.curvature} function {'below' if op == '>=' else 'at or above'} a bound"
    s.error("PAT401", f"not convex in the weights: {why}", diff.part,
            "write ratios linearly (weight(a) <= 2 * weight(b)); trust regions as kl(m) <= c")
    return None


def _trust(s: State, t: TrustV, op: str, rhs: LinV, item, label: str, loc: SourceLoc):
    if op != "<=":
        s.error("PAT401", f"not convex: {t.kind}({t.mixture}) {op} {rhs.const:g} keeps the new weights "
                          f"away from '{t.mixture}', and that set is not convex",
                item.span, f"a trust region is an upper bound: {t.kind}({t.mixture}) <= {rhs.const:g}")
        return None
    if rhs.const <= 0:
        s.error("PAT302", f"the trust-region radius must be > 0, found {rhs.const:g}", rhs.span)
        return None
    return ConstraintSpec(kind=t.kind, rhs=rhs.const, op="<=", label=label, loc=loc)  # type: ignore[arg-type]


def _linear(s: State, lhs: LinV, op: str, rhs: LinV, item, label: str, loc: SourceLoc):
    coeffs = {k: v for k, v in lhs.coeffs.items()}
    for k, v in rhs.coeffs.items():
        coeffs[k] = coeffs.get(k, 0.0) - v
    coeffs = {k: v for k, v in coeffs.items() if v != 0.0}
    bound = rhs.const - lhs.const
    if not coeffs:
        s.error("PAT403", f"'{label}' does not involve any weight", item.span,
                "constraints bound weight(c) of the mixture's components")
        return None
    if len(coeffs) == 1:
        (name, c), = coeffs.items()
        value, eff = bound / c, (op if c > 0 else _FLIP[op])
        if (eff in (">=", "==") and value > 1) or (eff in ("<=", "==") and value < 0):
            s.error("PAT302", f"weight({name}) {eff} {value:g} cannot hold: weights lie in [0, 1]",
                    item.span)
            return None
    return ConstraintSpec(kind="linear", coeffs=coeffs, op=op, rhs=bound, label=label, loc=loc)  # type: ignore[arg-type]

"""Checking a patterning block: its sources, targets (linear in observed observables) and
constraints (convex in the new weights, see :mod:`patternlang.check.convexity`)."""

from __future__ import annotations

import numpy as np

from typing import Any

from patternlang.check import coerce
from patternlang.check.blocks import BlockReader
from patternlang.check.convexity import check_constraint
from patternlang.check.entities import PatterningE, SusceptibilityE
from patternlang.check.evaluator import Evaluator, arith
from patternlang.check.experiment import loc
from patternlang.check.values import ConstV, ErrorV, ObsV, V
from patternlang.plan.ir import ObsExpr, TargetSpec
from patternlang.registry import Range
from patternlang.syntax import ast as A


#: the (unused) expression of a move target whose mode is given by index
ObsExprConst = ObsExpr(op="const", value=0.0)


def check_patterning(ev: Evaluator, key, decl: A.Decl) -> Any:
    s = ev.s
    r = BlockReader(ev, decl, key[0])
    fv = r.require("from")
    sources: list[SusceptibilityE] = []
    for item in coerce.as_list(fv) if fv is not None else []:
        ref = coerce.as_ref(s, item, ("susceptibility",), "from")
        sus = s.resolve(ref.key) if ref else None
        if isinstance(sus, SusceptibilityE):
            sources.append(sus)
    rounds = r.int("rounds", 1, Range(ge=1))
    round_steps = r.int("round_steps", 0, Range(ge=0))
    reg = r.float("regularization", 1e-6, Range(ge=0))
    if rounds and rounds > 1 and round_steps == 0:
        s.error("PAT310", f"rounds = {rounds} needs round_steps: training steps between rounds",
                r.span("rounds"), "add e.g. round_steps = 100")
    if not sources:
        _names_of_targets(ev, key[0], r)
        return ErrorV(decl.span)
    base = sources[0]
    for other in sources[1:]:
        if set(other.mixture.weights) != set(base.mixture.weights):
            s.error("PAT310", f"susceptibilities '{base.name}' and '{other.name}' are taken against "
                              "different components", r.span("from"), "use the same mixture in both")
    targets = [_target(ev, key[0], t, sources) if isinstance(t, A.Target) else
               _move(ev, key[0], t, sources) for t in r.statements if isinstance(t, (A.Target, A.Move))]
    if not targets:
        s.error("PAT303", f"patterning '{decl.name}' has no target", decl.name_span or decl.span,
                "add one, e.g. raise mean(ih) by 0.1")
    constraints, spans = [], []
    for block in (t for t in r.statements if isinstance(t, A.SubjectTo)):
        for c in block.constraints:
            operands = c.operands if isinstance(c, A.Compare) else (c,)
            values = [ev.eval(o, key[0], {}) for o in operands]
            for spec in check_constraint(s, c, values, loc(c.span)):
                constraints.append(_in_mixture(ev, spec, base, c))
                spans.append(c.span)
    require_resolved = _requirements(s, [t for t in r.statements if isinstance(t, A.Require)])
    samples = _samples(ev, r, base, targets, constraints, rounds) if r.has("samples") else []
    if None in targets or None in constraints or None in (rounds, round_steps, reg, samples,
                                                          require_resolved):
        return ErrorV(decl.span)
    if not _linear_feasible(ev, constraints, spans, base):
        return ErrorV(decl.span)
    return PatterningE(decl.name or "", loc(decl.span), [x.name for x in sources], base.mixture,
                       base.components, targets, constraints, rounds, round_steps, reg, samples,
                       require_resolved)


def _requirements(s, items: list) -> bool | None:
    """``require resolved``: True when present; None (an error was reported) for an unknown word."""
    for item in items:
        if item.what != "resolved":
            s.error("PAT301", f"unknown requirement '{item.what}'", item.span,
                    "the patterning requirement is: require resolved (every target's chi row has a "
                    "component with |z| >= 3)")
            return None
    return bool(items)


def _names_of_targets(ev: Evaluator, module: str, r: BlockReader) -> None:
    """When the susceptibility is unusable (an error upstream), still evaluate the targets'
    expressions, so that a typo in them (``loss(heldot)``) is reported with the other errors
    instead of after the first is fixed."""
    for t in r.statements:
        if isinstance(t, A.Target):
            for e in (t.expr, t.relative):
                if e is not None:
                    ev.eval(e, module, {})


def _linear_feasible(ev: Evaluator, constraints: list, spans: list, base: SusceptibilityE) -> bool:
    """PAT410 when the constraints cannot all hold, decided before anything runs (numpy and scipy:
    :mod:`patternlang.engine.solve.feasible`; no cvxpy in ``patc check``):

    * the linear and fixed constraints on the simplex (summed lower bounds above 1, a bound below
      a fixed weight, ...), naming a minimal conflicting set;
    * a trust region (``kl(base) <= r``, ``l2(base) <= r``) that cannot reach the weights the
      others allow: the first round is centred on the baseline, so no chi can make it feasible."""
    from patternlang.engine.solve.feasible import conflicting_linear

    idx = [i for i, c in enumerate(constraints) if c.kind in ("linear", "fixed")]
    if not idx:
        return True
    names = list(base.mixture.weights)
    h0 = np.array([base.mixture.weights[n] for n in names], float)
    specs = [constraints[i] for i in idx]
    labels = [c.label or f"constraint {k + 1}" for k, c in enumerate(specs)]
    conflict = conflicting_linear(h0, specs, labels, names)
    if conflict:
        first = idx[labels.index(conflict[0])]
        listed = ", ".join(f"'{c}'" for c in conflict)
        ev.s.error("PAT410", f"these constraints cannot all hold for weights that sum to 1: {listed}",
                   spans[first], "relax or remove one of them (each alone is compatible with the rest)")
        return False
    return all(_trust_reaches(ev, constraints[i], spans[i], specs, labels, h0, names)
               for i, c in enumerate(constraints) if c.kind in ("kl", "l2"))


def _trust_reaches(ev: Evaluator, trust, span, specs: list, labels: list[str], h0: np.ndarray,
                   names: list[str]) -> bool:
    """PAT410 at the trust region when the nearest weights that satisfy the linear and fixed
    constraints lie outside it, naming the constraints that push them there (deletion filter)."""
    from patternlang.engine.solve.feasible import nearest_divergence

    def reach(keep: list[int]) -> float:
        return nearest_divergence(h0, [specs[j] for j in keep], names, trust.kind)

    keep = list(range(len(specs)))
    need = reach(keep)
    if need <= trust.rhs * (1 + 1e-6) + 1e-9:
        return True
    for i in range(len(specs)):
        trial = [j for j in keep if j != i]
        if reach(trial) > trust.rhs * (1 + 1e-6) + 1e-9:
            keep = trial
    what = "KL(h'||h)" if trust.kind == "kl" else "||h' - h||_2"
    listed = ", ".join(f"'{labels[j]}'" for j in keep)
    ev.s.error("PAT410", f"the trust region {what} <= {trust.rhs:g} cannot reach the weights "
               f"{listed} allow{'s' if len(keep) == 1 else ''}: the nearest of them is at "
               f"{what} = {need:.3g} from the baseline", span,
               f"widen the trust region to at least {need * 1.01:.3g}, or relax {listed}")
    return False


def _samples(ev: Evaluator, r: BlockReader, base: SusceptibilityE, targets, constraints,
             rounds) -> list[str] | None:
    """``samples = [pool, ...]``: per-sample patterning over pools the susceptibility measured
    example by example (``per_sample = [pool]``); one trust region, no move target, one round."""
    s, raw = ev.s, r.raw("samples")
    items = raw.items if isinstance(raw, A.ListExpr) else (raw,)
    out = []
    for it in items:
        name = it.id if isinstance(it, A.Name) else A.show(it)
        if name not in base.pools:
            s.error("PAT310", f"'{name}' is not an example pool of susceptibility '{base.name}'",
                    it.span, f"measure it example by example: per_sample = [{name}] in '{base.name}'")
            return None
        out.append(name)
    where = r.span("samples")
    if any(t is not None and t.kind == "move" for t in targets):
        s.error("PAT310", "per-sample patterning takes raise/lower/reach/hold targets, not 'move'",
                where, "step along a principal direction of the component-level chi instead")
        return None
    if rounds and rounds > 1:
        s.error("PAT310", "per-sample patterning runs one round", where, "remove rounds")
        return None
    if not any(c is not None and c.kind in ("kl", "l2") for c in constraints):
        s.error("PAT303", "per-sample patterning needs a trust region: thousands of weights and a "
                "few targets leave the step unbounded otherwise", where,
                f"add to 'subject to': kl({base.mixture.name}) <= 0.05")
        return None
    return out


def _in_mixture(ev: Evaluator, spec, base: SusceptibilityE, c) -> Any:
    names = set(spec.coeffs) | set(spec.components)
    missing = sorted(n for n in names if n not in base.mixture.weights)
    if missing:
        ev.s.error("PAT305", f"'{missing[0]}' is not a component of mixture '{base.mixture.name}'", c.span,
                   f"its components: {', '.join(base.mixture.weights)}")
        return None
    if spec.kind in ("kl", "l2") and spec.label.split("(")[1].split(")")[0].strip() != base.mixture.name:
        ev.s.error("PAT305", f"the trust region must be around the current mixture '{base.mixture.name}'",
                   c.span, f"write {spec.kind}({base.mixture.name}) <= {spec.rhs:g}")
        return None
    return spec


def _target(ev: Evaluator, module: str, t: A.Target, sources: list[SusceptibilityE]) -> TargetSpec | None:
    s = ev.s
    v = _refs(ev, ev.eval(t.expr, module, {}), sources)
    if t.relative is not None:
        rel = _refs(ev, ev.eval(t.relative, module, {}), sources)
        v = arith("sub", t.span, v, rel, s) if v is not None and rel is not None else None  # type: ignore[assignment]
    amount = _amount(ev, module, t)
    weight = 1.0
    if t.weight is not None:
        weight = coerce.as_float(s, ev.eval(t.weight, module, {}), "the target weight", Range(gt=0))
    if not isinstance(v, ObsV) or amount is False or weight is None:
        return None
    if v.shape != "scalar":
        s.error("PAT306", f"'{A.show(t.expr)}' has one value per head; a target needs a scalar", t.expr.span,
                f"use mean({A.show(t.expr)}), sum(...) or pick a head: {A.show(t.expr)}[0]")
        return None
    if not _linear(ev, v):
        return None
    label = f"{t.verb} {A.show(t.expr)}" + (f" relative to {A.show(t.relative)}" if t.relative else "")
    return TargetSpec(kind=t.verb, expr=v.to_expr(), label=label, weight=weight, loc=loc(t.span),  # type: ignore[arg-type]
                      amount=amount if t.verb in ("raise", "lower", "hold") else None,
                      value=amount if t.verb == "reach" else None)


def _move(ev: Evaluator, module: str, m: A.Move, sources: list[SusceptibilityE]) -> TargetSpec | None:
    """``move along mode(INDEX | EXPR) by AMOUNT [weight W]`` (see :class:`TargetSpec`)."""
    s = ev.s
    if len(sources) != 1:
        s.error("PAT310", "'move along' steps along a principal direction of one susceptibility, "
                f"but this patterning inverts {len(sources)}", m.span,
                "use from = one susceptibility, or raise/lower targets")
        return None
    selector = _mode_selector(ev, module, m.along, sources[0])
    if m.amount is None or m.amount_word != "by":
        s.error("PAT303", "move needs 'by AMOUNT' (a signed step length)", m.span,
                "e.g. move along mode(mean(ih)) by 0.1")
        return None
    amount = coerce.as_float(s, ev.eval(m.amount, module, {}), "the step length", None)
    if amount == 0:
        s.error("PAT302", "the step length of 'move along' must not be 0", m.amount.span,
                "a positive length raises what the mode loads on; a negative one lowers it")
        return None
    weight = 1.0
    if m.weight is not None:
        weight = coerce.as_float(s, ev.eval(m.weight, module, {}), "the target weight", Range(gt=0))
    if selector is None or amount is None or weight is None:
        return None
    index, expr = selector
    return TargetSpec(kind="move", expr=expr, label=f"move along {A.show(m.along)} by {A.show(m.amount)}",
                      amount=amount, weight=weight, loc=loc(m.span), mode=index)


def _mode_selector(ev: Evaluator, module: str, along: A.Expr, sus: SusceptibilityE):
    """``mode(INDEX)`` -> (index, const expr); ``mode(EXPR)`` -> (None, EXPR over observed refs)."""
    s = ev.s
    if not (isinstance(along, A.Call) and isinstance(along.func, A.Name) and along.func.id == "mode"
            and len(along.args) == 1 and along.args[0].name is None):
        s.error("PAT301", f"'move along' takes a principal mode, found {A.show(along)}", along.span,
                "write mode(0) (by index) or mode(mean(ih)) (the mode that moves mean(ih) most)")
        return None
    arg = along.args[0].value
    if isinstance(arg, A.Num) and arg.is_int:
        k = len(sus.mixture.weights)
        if not 0 <= int(arg.value) < k - 1:
            s.error("PAT302", f"mode({arg.value}) does not exist: chi against {k} components has "
                    f"{k - 1} modes that move the mixture (0..{k - 2})", arg.span,
                    "or choose the mode by what it moves: mode(mean(ih))")
            return None
        return int(arg.value), ObsExprConst
    v = _refs(ev, ev.eval(arg, module, {}), [sus])
    if not isinstance(v, ObsV):
        return None
    if v.shape != "scalar":
        s.error("PAT306", f"'{A.show(arg)}' has one value per head; a mode is chosen by a scalar",
                arg.span, f"use mean({A.show(arg)}) or pick a head: {A.show(arg)}[0]")
        return None
    if not _linear(ev, v):
        return None
    return None, v.to_expr()


def _amount(ev: Evaluator, module: str, t: A.Target) -> float | None | bool:
    s = ev.s
    need = {"raise": "by", "lower": "by", "reach": "to", "hold": None}[t.verb]
    if need is None:  # hold E [by T]: T is the tolerance its resolution is judged with
        if t.amount is None:
            return None
        if t.amount_word != "by":
            s.error("PAT301", "hold takes a tolerance with 'by'", t.amount.span,
                    "write hold E by 0.01 (its predicted change must stay within 0.01), or hold E")
            return False
        value = coerce.as_float(s, ev.eval(t.amount, module, {}), "the tolerance of hold", Range(gt=0))
        return False if value is None else value
    if t.amount is None or t.amount_word != need:
        s.error("PAT303", f"{t.verb} needs '{need} AMOUNT'", t.span, f"e.g. {t.verb} mean(ih) {need} 0.1")
        return False
    rng = Range(gt=0) if need == "by" else None
    value = coerce.as_float(s, ev.eval(t.amount, module, {}), f"the amount to {t.verb}", rng)
    return False if value is None else value


def _refs(ev: Evaluator, v: V, sources: list[SusceptibilityE]) -> ObsV | None:
    """Rewrite an observable expression over what ``sources`` observe (``ref`` leaves)."""
    if isinstance(v, ConstV) and v.type in ("int", "float"):
        return ObsV(v.span, "const", value=float(v.value))
    v = coerce.as_observable(ev, v, "a target") if not isinstance(v, ErrorV) else None
    if v is None:
        return None
    if v.op in ("ref", "const"):
        return v
    if v.op == "leaf":
        hits = [(x, x.find(v.name or v.text) or x.find(v.text)) for x in sources]
        hits = [(x, i) for x, i in hits if i is not None]
        if not hits:
            names = ", ".join(x.name for x in sources)
            ev.s.error("PAT207", f"'{v.text}' is not observed by {names}", v.span,
                       f"add it to the observe list of {sources[0].name}")
            return None
        if len(hits) > 1:
            ev.s.error("PAT206", f"'{v.text}' is observed by several susceptibilities", v.span,
                       f"say which: {hits[0][0].name}.{v.text}")
            return None
        x, item = hits[0]
        return ObsV(v.span, "ref", item.shape, name=item.spec.name, text=item.spec.name,
                    source=f"susceptibility.{x.name}")
    kids = [_refs(ev, c, sources) for c in v.children]
    if None in kids:
        return None
    shape = "scalar" if v.op in ("mean", "sum", "index") else \
        ("per_head" if any(k.shape == "per_head" for k in kids) else "scalar")
    return ObsV(v.span, v.op, shape, tuple(kids), index=v.index)


def _linear(ev: Evaluator, v: ObsV) -> bool:
    def has_ref(x: ObsV) -> bool:
        return x.op == "ref" or any(has_ref(c) for c in x.children)

    if v.op == "mul" and all(has_ref(c) for c in v.children):
        ev.s.error("PAT307", "a target must be linear in the observables: this multiplies two of them",
                   v.span, "targets are met through the linear response; scale by constants only")
        return False
    if v.op == "div" and has_ref(v.children[1]):
        ev.s.error("PAT307", "a target must be linear in the observables: this divides by one", v.span,
                   "write it without dividing by an observable")
        return False
    if not has_ref(v):
        ev.s.error("PAT207", "a target must involve an observable", v.span)
        return False
    return all(_linear(ev, c) for c in v.children if c.op not in ("ref", "const")) if v.op != "ref" \
        else True

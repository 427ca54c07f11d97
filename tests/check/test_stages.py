"""The checker's stages one at a time (the golden files test them together): scope resolution,
the evaluator, coercion, and the convexity classification of constraints."""

from __future__ import annotations

import pytest

from patternlang.check.checker import checking_state
from patternlang.check import coerce, convexity
from patternlang.check.evaluator import Evaluator
from patternlang.check.modules import load_program
from patternlang.check.scope import State, did_you_mean
from patternlang.check.values import ConstV, CurvedV, ErrorV, LinV, ObsV, TrustV
from patternlang.errors import Span
from patternlang.plan.ir import SourceLoc
from patternlang.registry import Range
from patternlang.syntax import ast as A

SP = Span("<t>.pat", 1, 1, 1, 2)
LOC = SourceLoc(file="<t>.pat", line=1, col=1)


def checker(text: str, filename: str = "<t>.pat") -> tuple[State, Evaluator, str]:
    """A checking state over ``text`` wired as :func:`check_program` wires it, and the root key."""
    program = load_program(text, filename)
    state, ev = checking_state(program)
    return state, ev, program.root.key


def body(state: State, root: str, name: str) -> A.Expr:
    return state.decl((root, name)).body


# -- scope resolution ------------------------------------------------------------------------


def test_own_declarations_shadow_imported_ones_and_only_definitions_are_imported(tmp_path):
    (tmp_path / "lib.pat").write_text("data d = uniform_tokens(vocab=8, length=4)\n"
                                      "observable o = llc()\n"
                                      "mixture m = {d: 1}\n"
                                      "train t { model = attn_only(layers=1)  data = m  steps = 5 }\n")
    spec = tmp_path / "main.pat"
    text = "use lib\nobservable o = loss(d)\n"
    spec.write_text(text)
    state, _, root = checker(text, str(spec))
    scope = state.scopes[root]
    assert scope.lookup("o") == [(root, scope.own["o"])]  # the root's own `o` wins
    (lib, decl), = scope.lookup("d")
    assert lib != root and decl.kind == "data"
    assert scope.lookup("t") == []  # a train run is a step of lib's experiment, not a value
    assert "m" in scope.names() and "t" not in scope.names()


def test_did_you_mean_suggests_only_close_names():
    assert did_you_mean("unifrom", ["uniform", "markov"]) == "did you mean 'uniform'?"
    assert did_you_mean("zzz", ["uniform", "markov"]) is None


def test_resolve_memoises_and_reports_a_cycle_once():
    state, _, root = checker("observable a = b + 1\nobservable b = a * 2\n")
    first = state.resolve((root, "a"))
    assert isinstance(first, ErrorV)
    cycles = [d for d in state.diagnostics if d.code == "PAT503"]
    assert len(cycles) == 1 and "a -> b -> a" in cycles[0].message
    assert state.resolve((root, "a")) is first  # memoised: no second report
    assert len([d for d in state.diagnostics if d.code == "PAT503"]) == 1


# -- the evaluator ---------------------------------------------------------------------------


def test_constants_fold_and_template_parameters_come_first():
    state, ev, root = checker("observable k = 2 * 3 + 1\nobservable x = llc()\n"
                              "observable y = x / 4\n")
    v = ev.eval(body(state, root, "k"), root, {})
    assert isinstance(v, ConstV) and v.value == 7 and v.type == "int"
    declared = ev.eval(body(state, root, "y"), root, {})
    assert isinstance(declared, ObsV) and declared.op == "div"  # the observable x, divided
    # a parameter in the environment shadows the declaration of the same name
    assert ev.eval(body(state, root, "y"), root, {"x": ConstV(SP, 2, "int")}).value == 0.5
    assert state.diagnostics == []


def test_an_unknown_name_is_one_diagnostic_with_a_suggestion():
    state, ev, root = checker("observable ih = induction_scroe(layer=1, heads=*, period=4)\n")
    v = ev.eval(body(state, root, "ih"), root, {})
    assert isinstance(v, ErrorV)
    (d,) = state.diagnostics
    assert "induction_scroe" in d.message and d.hint == "did you mean 'induction_score'?"


# -- coercion --------------------------------------------------------------------------------


def test_numbers_coerce_with_types_and_ranges():
    state, *_ = checker("")
    three, half = ConstV(SP, 3, "int"), ConstV(SP, 0.5, "float")
    assert coerce.as_int(state, three, "steps", Range(ge=1)) == 3
    assert coerce.as_float(state, three, "lr") == 3.0  # an int is a number
    assert coerce.as_int(state, half, "steps") is None  # a float is not an int
    assert coerce.as_float(state, half, "eps", Range(gt=1)) is None  # out of range
    assert [d.code for d in state.diagnostics] == ["PAT301", "PAT302"]
    assert coerce.as_int(state, ErrorV(SP), "steps") is None  # no second report for an error
    assert len(state.diagnostics) == 2


def test_bind_matches_arguments_to_parameters():
    state, *_ = checker("")
    a, b = ConstV(SP, 1, "int"), ConstV(SP, 2, "int")
    got = coerce.bind(state, "f", ["x", "y"], [(None, SP, a), ("y", SP, b)])
    assert got == {"x": (SP, a), "y": (SP, b)} and state.diagnostics == []
    assert coerce.bind(state, "f", ["x", "y"], [("x", SP, a), (None, SP, b)]) is None
    assert coerce.bind(state, "f", ["x", "y"], [("z", SP, a)]) is None
    assert coerce.bind(state, "f", ["x"], [(None, SP, a), ("x", SP, b)]) is None
    assert [d.code for d in state.diagnostics] == ["PAT304", "PAT203", "PAT304"]


# -- convexity -------------------------------------------------------------------------------


def _w(name: str, c: float = 1.0) -> LinV:
    return LinV(SP, {name: c}, 0.0)


def _cmp(op: str) -> A.Compare:
    return A.Compare(SP, (A.Name(SP, "lhs"), A.Name(SP, "rhs")), (op,))


def test_weight_arithmetic_tracks_affine_parts_and_curvature():
    two_b = convexity.weight_arith("mul", SP, [ConstV(SP, 2, "int"), _w("b")])
    s = convexity.weight_arith("add", SP, [_w("a"), two_b])
    assert isinstance(s, LinV) and s.coeffs == {"a": 1.0, "b": 2.0}
    kl = TrustV(SP, "kl", "base")
    neg = convexity.weight_arith("neg", SP, [kl])
    assert isinstance(neg, CurvedV) and neg.curvature == "concave"
    prod = convexity.weight_arith("mul", SP, [_w("a"), _w("b")])
    assert isinstance(prod, CurvedV) and prod.curvature == "unknown"


@pytest.mark.parametrize("lhs, op, rhs, kind, code", [
    (_w("a"), "<=", LinV(SP, {"b": 2.0}, 0.0), "linear", None),         # a ratio written linearly
    (TrustV(SP, "kl", "base"), "<=", ConstV(SP, 0.1, "float"), "kl", None),
    (TrustV(SP, "kl", "base"), ">=", ConstV(SP, 0.1, "float"), None, "PAT401"),  # not convex
    (CurvedV(SP, "unknown", "it multiplies two expressions in the weights", SP), "<=",
     ConstV(SP, 0.1, "float"), None, "PAT401"),
    (CurvedV(SP, "convex", "kl(base) is convex", SP), "<=", _w("a"), None, "PAT402"),  # unsupported
    (_w("a"), ">=", ConstV(SP, 1.5, "float"), None, "PAT302"),        # cannot hold on the simplex
    (ConstV(SP, 1, "int"), "<=", ConstV(SP, 2, "int"), None, "PAT403"),  # no weight at all
])
def test_constraints_are_classified(lhs, op, rhs, kind, code):
    state, *_ = checker("")
    specs = convexity.check_constraint(state, _cmp(op), [lhs, rhs], LOC)
    assert [s.kind for s in specs] == ([kind] if kind else [])
    assert [d.code for d in state.diagnostics] == ([code] if code else [])

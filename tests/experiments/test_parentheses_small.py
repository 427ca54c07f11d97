"""End to end: the CI size of the parentheses experiment through ``patternlang.api.run``.

Checks what the full experiment's README is built from: per-solution LLCs for both groups of seeds
(disjoint representative checkpoints), finite chi with standard errors for every component (the
free energy's chi = the LLC's chi + its loss term, kept apart as ``chi_explicit``), two
feasible patternings that move the weights in opposite directions, and per-arm fractions of seeds
that learned each rule.
"""

from pathlib import Path

import numpy as np
import pytest

from patternlang.api import run

SPEC = Path(__file__).resolve().parents[2] / "specs" / "ci" / "parentheses_small.pat"
COMPONENTS = ["pos", "flat", "early", "late", "closing"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return run(SPEC, tmp_path_factory.mktemp("parens"), device="cpu")


def _doc(results) -> dict:
    return results.data


def test_per_solution_llcs_for_both_rules(results):
    doc = _doc(results)
    seeds = {}
    for sid in ("sample.chi_n", "sample.chi_e"):
        centers = doc["llc"][sid]["centers"]
        assert 1 <= len(centers) <= 2
        for c in centers:
            assert np.isfinite(c["llc_mean"]) and c["llc_se"] > 0
        seeds[sid] = {c["seed"] for c in centers}
    assert not seeds["sample.chi_n"] & seeds["sample.chi_e"], "a seed cannot represent both rules"


def test_chi_is_finite_with_standard_errors(results):
    for sid, rule in (("susceptibility.chi_n", "nested"), ("susceptibility.chi_e", "equal_count")):
        s = _doc(results)["susceptibilities"][sid]
        assert s["components"] == COMPONENTS and s["observables"] == ["free", "complexity", rule]
        chi, se = np.asarray(s["chi"]), np.asarray(s["chi_se"])
        assert chi.shape == se.shape == (3, 5)
        assert np.isfinite(chi).all() and (se > 0).all()
        # free − complexity is exactly the loss term of the explicit part: n/(nβ log n)·(L_k − L)(w*)
        explicit = np.asarray(s["chi_explicit"])
        assert np.any(explicit[0] != explicit[1]) and not np.any(explicit[2])
        np.testing.assert_allclose(chi[0] - chi[1], explicit[0] - explicit[1], rtol=1e-6, atol=1e-9)


def test_two_feasible_patternings_in_opposite_directions(results):
    sols = _doc(results)["solves"]
    w = {}
    for sid in ("solve.prefer_nested", "solve.prefer_equal_count"):
        assert sols[sid]["rounds"][-1]["solve"]["status"] in ("optimal", "optimal_inaccurate")
        w[sid] = np.array([sols[sid]["final_weights"][c] for c in COMPONENTS])
        assert abs(w[sid].sum() - 1) < 1e-6 and (w[sid] >= -1e-9).all()
        assert abs(w[sid][0] - 0.5) < 1e-6  # weight(pos) == 0.5 holds
    base = np.array([0.5, 0.32, 0.06, 0.06, 0.06])
    dn, de = w["solve.prefer_nested"] - base, w["solve.prefer_equal_count"] - base
    assert np.linalg.norm(dn) > 1e-3 and np.linalg.norm(de) > 1e-3
    assert float(dn @ de) < 0, "opposite targets should move the mixture in opposing directions"


def test_per_arm_rule_fractions(results):
    ver = _doc(results)["verification"]
    for vid in ("verify.prefer_nested", "verify.prefer_equal_count"):
        for arm in ("baseline", "patterned"):
            onset = ver[vid]["arms"][arm]["onset"]
            for rule in ("nested", "equal_count"):
                holds = onset[rule]["final_holds"]
                assert len(holds) == 2
                assert onset[rule]["final_fraction"] == pytest.approx(sum(holds) / 2)
    assert (Path(results.run_dir) / "report.md").exists()

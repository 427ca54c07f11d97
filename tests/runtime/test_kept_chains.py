"""Partly diverged sampling (issue 14, item 5): χ, the LLC and every estimate use one set of kept
chains; a diverged chain whose values stay finite is not mixed into χ; too few kept is exit 1."""

from __future__ import annotations

import numpy as np
import pytest

from patternlang.engine.chi import estimate_chi
from patternlang.engine.moments import Comoments
from patternlang.errors import DivergenceError
from patternlang.runtime.steps.sample.parts import keep_chains


def _moments(chains: int, draws: int = 40, seed: int = 0, poison: dict | None = None) -> Comoments:
    """Correlated (x, y) draws per chain; ``poison[c] = value`` adds it to chain c's x."""
    rng = np.random.default_rng(seed)
    m = Comoments(chains, 2, 1, batch_draws=5)
    for _ in range(draws):
        y = rng.normal(size=(chains, 1))
        x = np.concatenate([0.5 * y + rng.normal(size=(chains, 1)), rng.normal(size=(chains, 1))], 1)
        for c, v in (poison or {}).items():
            x[c] += v
        m.update(x, y)
    return m


def _parts(alive: list[bool]) -> list[dict]:
    half = len(alive) // 2
    return [{"alive": alive[:half], "chain_ids": list(range(half))},
            {"alive": alive[half:], "chain_ids": list(range(half, len(alive)))}]


def test_select_equals_accumulating_only_the_kept_chains():
    full = _moments(4, seed=1)
    kept = full.select(np.array([True, False, True, True]))
    chi_sel = estimate_chi(kept)
    assert kept.chains == 3 and kept.draws == full.draws
    # the same draws accumulated chain by chain give the same estimate
    rebuilt = None
    for c in (0, 2, 3):
        one = full.select(np.arange(4) == c)
        rebuilt = one if rebuilt is None else rebuilt.merge(one)
    chi_re = estimate_chi(rebuilt)
    np.testing.assert_allclose(chi_sel.chi, chi_re.chi)
    np.testing.assert_allclose(chi_sel.se, chi_re.se)


def test_a_diverged_chain_with_finite_values_is_left_out_of_chi():
    clean = _moments(4, seed=2)
    shifted = _moments(4, seed=2, poison={1: 50.0})  # chain 1 wandered off but stayed finite
    moments, parts = keep_chains("sample.chi", "seed0", shifted, _parts([True, False, True, True]))
    expected = estimate_chi(clean.select(np.array([True, False, True, True])))
    np.testing.assert_allclose(estimate_chi(moments).chi, expected.chi)
    assert [p["alive"] for p in parts] == [[True, False], [True, True]]


def test_a_chain_with_non_finite_values_is_dropped_from_every_estimate():
    m = _moments(4, seed=3, poison={3: np.nan})
    moments, parts = keep_chains("sample.chi", "seed0", m, _parts([True] * 4))
    assert moments.chains == 3 and np.isfinite(estimate_chi(moments).chi).all()
    assert parts[1]["alive"] == [True, False]  # the LLC drops it too


def test_too_few_kept_chains_is_a_divergence_error_naming_them():
    m = _moments(4, seed=4, poison={0: np.inf})
    with pytest.raises(DivergenceError) as err:
        keep_chains("sample.chi", "seed0", m, _parts([True, False, False, True]))
    msg = str(err.value)
    assert "sample.chi" in msg and "[0, 1, 2]" in msg and "1 of 4 kept" in msg and "gamma" in msg

"""Attention-head scores on a hand-built model with exact heads (and the off-by-one trap)."""

import pytest
import torch
from .obs_helpers import T, V, UniformTokens, hand_built

from patternlang.errors import PatRuntimeError
from patternlang.observables import build_observer
from patternlang.plan.ir import ObsExpr, ObservableSpec

P = 12


def spec(name, prim, **args):
    return ObservableSpec(name=name, expr=ObsExpr(op="prim", name=prim, args=args))


def observe(model, specs, chains=1):
    obs = build_observer(model, specs, {"u": UniformTokens("u", V, T)}, {"u": 1.0}, probe=16,
                         seed=0, nbeta=10.0)
    params = {k: v.detach()[None].expand(chains, *v.shape).clone()
              for k, v in model.named_parameters()}
    x, _, _ = obs.evaluate(params)
    return dict(zip(obs.obs_names, x.T)), obs


def chance(queries, offset=0):
    """Score of a uniform causal head: mean over queries i of 1/(i+1)."""
    return sum(1.0 / (i + 1) for i in queries) / len(queries)


def test_exact_heads_score_one_and_others_chance():
    specs = [spec(f"{s}{layer}", f"{prim}_score", layer=layer, **({"period": P} if s != "prev" else {}))
             for layer in (0, 1) for s, prim in (("ind", "induction"), ("dup", "duplicate_token"))]
    specs += [spec(f"prev{layer}", "previous_token_score", layer=layer) for layer in (0, 1)]
    vals, obs = observe(hand_built(), specs, chains=3)
    v = {k: float(t[0]) for k, t in vals.items()}
    assert all(torch.allclose(t, t[0].expand_as(t)) for t in vals.values())  # same params, same score
    assert v["ind1[l1h0]"] > 0.99
    assert v["prev0[l0h0]"] > 0.99
    assert v["dup0[l0h1]"] > 0.99
    # every other head: near the uniform-attention level, far from 1
    second = range(P, 2 * P)
    for name, val in v.items():
        if name not in ("ind1[l1h0]", "prev0[l0h0]", "dup0[l0h1]"):
            assert val < 0.25, (name, val)
    assert v["ind0[l0h2]"] == pytest.approx(chance(second), abs=0.05)
    # naming: one coordinate per head
    assert "ind1[l1h2]" in obs.obs_names and len(obs.obs_names) == 6 * 3


def test_induction_offset_is_period_minus_one_on_second_copy_only():
    """The exact induction head scores 1 only at offset −(P−1) read on the second copy; reading
    offset −P (the duplicate stripe) or including the first copy gives a smaller number."""
    model = hand_built()
    vals, obs = observe(model, [spec("ind", "induction_score", layer=1, heads=[0], period=P)])
    assert float(vals["ind[l1h0]"][0]) > 0.99
    tokens = obs.ctx.batch(f"__repeated_tokens_p{P}")["tokens"]
    assert tokens.shape == (16, 2 * P) and torch.equal(tokens[:, :P], tokens[:, P:])
    assert all(len(set(row[:P].tolist())) == P for row in tokens)  # distinct within a period
    _, att = model(tokens, return_attention=True)
    a = att[1, :, 0]  # [n, q, k]
    i = torch.arange(P, 2 * P)
    assert a[:, i, i - P].mean() < 0.05  # offset −P: the trap
    diag_all = torch.stack([a[:, q, q - (P - 1)] for q in range(P - 1, 2 * P)], 1).mean()
    assert diag_all < 0.99 * a[:, i, i - (P - 1)].mean()  # first-copy entry P−1 → 0 dilutes


def test_head_selection_and_errors():
    vals, _ = observe(hand_built(), [spec("ind", "induction_score", layer=1, heads=[2, 0], period=P)])
    assert list(vals) == ["ind[l1h2]", "ind[l1h0]"]
    with pytest.raises(PatRuntimeError, match="layer 2"):
        observe(hand_built(), [spec("x", "induction_score", layer=2)])
    with pytest.raises(PatRuntimeError, match="heads"):
        observe(hand_built(), [spec("x", "previous_token_score", layer=0, heads=[7])])
    with pytest.raises(PatRuntimeError, match="exceeds the model context"):
        observe(hand_built(), [spec("x", "induction_score", layer=1, period=T)])


def test_random_model_scores_near_chance():
    from patternlang.models.attn_only import AttnOnlyTransformer

    m = AttnOnlyTransformer(vocab=V, d_model=32, n_layers=2, n_heads=4, context=T, seed=3)
    vals, _ = observe(m, [spec("ind", "induction_score", layer=1, period=P),
                          spec("prev", "previous_token_score", layer=0)])
    for name, t in vals.items():
        ref = chance(range(P, 2 * P)) if name.startswith("ind") else chance(range(1, 2 * P))
        assert float(t[0]) == pytest.approx(ref, abs=0.05), name

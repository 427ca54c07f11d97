"""The observation engine: one pass per probe per draw, correct losses, names, per-sample χ."""

import numpy as np
import pytest
import torch
from .obs_helpers import UniformTokens

from patternlang.engine.chi import estimate_chi
from patternlang.errors import PatRuntimeError
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.losses import per_sample_loss, per_token_loss
from patternlang.observables import build_observer
from patternlang.plan.ir import ObsExpr, ObservableSpec

VOCAB, CTX = 32, 24


def prim(name, **args):
    return ObsExpr(op="prim", name=name, args=args)


def spec(name, expr):
    return ObservableSpec(name=name, expr=expr)


class Counting(AttnOnlyTransformer):
    """Counts forward passes: single-parameter-set ones and natively chain-batched ones alike."""

    calls = 0

    def forward(self, tokens, return_attention=False):
        type(self).calls += 1
        return super().forward(tokens, return_attention)

    def chain_batched_forward(self, params, tokens, return_attention=False):
        type(self).calls += 1
        return super().chain_batched_forward(params, tokens, return_attention)


def components():
    return {"a": UniformTokens("a", VOCAB, CTX), "b": UniformTokens("b", VOCAB // 2, CTX),
            "c": UniformTokens("c", VOCAB, CTX, lo=VOCAB // 2)}


MIX = {"a": 0.5, "b": 0.3, "c": 0.2}


def perturbed(model, chains, scale, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: v.detach()[None] + scale * torch.randn((chains, *v.shape), generator=g)
            for k, v in model.named_parameters()}


def test_losses_match_direct_computation_and_llc_is_zero_at_center():
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("la", prim("loss", component="a")), spec("llc", prim("llc")),
             spec("t5", prim("token_loss", component="b", position=5)),
             spec("icl", prim("icl_score", component="c", early=2, late=20)),
             spec("inc", prim("loss_increase", component="b"))]
    obs = build_observer(model, specs, components(), MIX, probe=8, seed=3, nbeta=25.0)
    x0, y0, L0 = obs.evaluate(None)
    assert float(x0[0, 1]) == pytest.approx(0.0, abs=1e-12)  # llc at w* is 0
    params = perturbed(model, 3, 0.05, 0)
    x, y, L = obs.evaluate(params)
    batches = obs.ctx.probes
    for c in range(3):
        with torch.no_grad():
            out = {k: torch.func.functional_call(model, {n: v[c] for n, v in params.items()},
                                                 (batches[k]["tokens"],)) for k in MIX}
        Lk = {k: per_sample_loss("lm", out[k], batches[k]).mean() for k in MIX}
        Lmix = sum(MIX[k] * Lk[k] for k in MIX)
        assert float(x[c, 0]) == pytest.approx(float(Lk["a"]), rel=1e-5)
        assert float(L[c]) == pytest.approx(float(Lmix), rel=1e-5)
        assert float(x[c, 1]) == pytest.approx(25.0 * float(Lmix - L0[0]), rel=1e-4)
        tok_b = per_token_loss(out["b"], batches["b"])
        assert float(x[c, 2]) == pytest.approx(float(tok_b[:, 4].mean()), rel=1e-5)
        tok_c = per_token_loss(out["c"], batches["c"])
        assert float(x[c, 3]) == pytest.approx(float(tok_c[:, 19].mean() - tok_c[:, 1].mean()),
                                               rel=1e-4, abs=1e-6)
        center_b = float(obs.ctx.center("b").per_sample.mean())
        assert float(x[c, 4]) == pytest.approx(float(Lk["b"]) - center_b, rel=1e-4)
        np.testing.assert_allclose(y[c].numpy(), [float(Lk[k] - Lmix) for k in MIX], rtol=1e-4,
                                   atol=1e-6)


def test_one_forward_pass_per_probe_per_draw_shared_by_loss_and_attention():
    Counting.calls = 0
    model = Counting(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("la", prim("loss", component="a")), spec("lb", prim("loss", component="b")),
             spec("ih", prim("induction_score", layer=1)), spec("pt", prim("previous_token_score", layer=0)),
             spec("dup", prim("duplicate_token_score", layer=0, heads=[1])),
             spec("llc", prim("llc"))]
    obs = build_observer(model, specs, components(), MIX, probe=8, seed=0, nbeta=10.0)
    params = perturbed(model, 4, 0.01, 1)
    Counting.calls = 0
    out = obs(params)
    assert Counting.calls == 4  # 3 component probes + 1 repeated-tokens probe, all chains at once
    assert out["x"].shape == (4, 2 + 4 + 4 + 1 + 1) and out["y"].shape == (4, 3)
    assert obs.obs_names[:4] == ["la", "lb", "ih[l1h0]", "ih[l1h1]"]
    assert obs.obs_names[-2:] == ["dup[l0h1]", "llc"]
    assert obs.comp_names == ["a", "b", "c"]


def test_expressions_names_and_errors():
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    ih = prim("induction_score", layer=1, heads=[0, 2])
    specs = [spec("diff", ObsExpr(op="sub", operands=[prim("loss", component="a"),
                                                       prim("loss", component="b")])),
             spec("ihm", ObsExpr(op="mean", operands=[ih])),
             spec("ih2", ObsExpr(op="index", index=1, operands=[ih])),
             spec("scaled", ObsExpr(op="mul", operands=[ObsExpr(op="const", value=2.0), ih])),
             spec("neg", ObsExpr(op="neg", operands=[prim("llc")]))]
    obs = build_observer(model, specs, components(), MIX, probe=8, seed=0, nbeta=10.0)
    x, _, _ = obs.evaluate(perturbed(model, 2, 0.02, 2))
    assert obs.obs_names == ["diff", "ihm", "ih2", "scaled[l1h0]", "scaled[l1h2]", "neg"]
    assert torch.allclose(x[:, 1], (x[:, 3] + x[:, 4]) / 4)
    assert torch.allclose(x[:, 2], x[:, 4] / 2)
    bad = [([spec("x", prim("nope"))], "unknown observable"),
           ([spec("x", prim("loss", component="zzz"))], "unknown component"),
           ([spec("x", prim("loss", component="a", foo=1))], "unknown arguments"),
           ([spec("x", prim("induction_score"))], "missing arguments"),
           ([spec("x", prim("llc")), spec("x", prim("llc"))], "repeat")]
    for specs, msg in bad:
        with pytest.raises(PatRuntimeError, match=msg):
            build_observer(model, specs, components(), MIX, probe=8, seed=0, nbeta=10.0)
    with pytest.raises(PatRuntimeError, match="unknown components"):
        build_observer(model, [], components(), {"zz": 1.0}, probe=8, seed=0, nbeta=1.0)


def test_deterministic_probes():
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("ih", prim("induction_score", layer=1)), spec("la", prim("loss", component="a"))]
    a = build_observer(model, specs, components(), MIX, probe=8, seed=5, nbeta=10.0)
    b = build_observer(model, specs, components(), MIX, probe=8, seed=5, nbeta=10.0)
    c = build_observer(model, specs, components(), MIX, probe=8, seed=6, nbeta=10.0)
    p = perturbed(model, 2, 0.02, 0)
    assert torch.equal(a.evaluate(p)[0], b.evaluate(p)[0])
    assert not torch.equal(a.evaluate(p)[0], c.evaluate(p)[0])


def test_per_sample_chi_mean_equals_component_chi_exactly():
    """Linearity: the set's loss is the mean of its samples' losses, so mean_i χ[:, k[i]] = χ[:, k]."""
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("la", prim("loss", component="a")), spec("ih", prim("induction_score", layer=1))]
    obs = build_observer(model, specs, components(), MIX, probe=6, seed=0, nbeta=10.0,
                         per_sample=True, batch_draws=4)
    assert obs.comp_names[:4] == ["a", "b", "c", "a[0]"] and len(obs.comp_names) == 3 + 18
    for draw in range(16):
        obs(perturbed(model, 3, 0.03, draw))
    chi = estimate_chi(obs.moments)
    for k in MIX:
        cols = [chi.comp_names.index(f"{k}[{i}]") for i in range(6)]
        np.testing.assert_allclose(chi.chi[:, cols].mean(1), chi.chi[:, chi.comp_names.index(k)],
                                   rtol=1e-9, atol=1e-12)
    # the per-sample χ of "la" against a's samples is the (negated) Bayesian influence
    assert np.all(np.isfinite(chi.se)) and chi.draws == 16 and chi.chains == 3


def test_fused_probes_give_the_same_numbers_in_fewer_passes():
    Counting.calls = 0
    model = Counting(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("la", prim("loss", component="a")), spec("ih", prim("induction_score", layer=1)),
             spec("t3", prim("token_loss", component="c", position=3))]
    plain = build_observer(model, specs, components(), MIX, probe=8, seed=0, nbeta=10.0)
    fused = build_observer(model, specs, components(), MIX, probe=8, seed=0, nbeta=10.0, fuse=True)
    p = perturbed(model, 3, 0.02, 4)
    a = plain.evaluate(p)
    Counting.calls = 0
    b = fused.evaluate(p)
    assert Counting.calls == 2  # the 3 same-shape component probes in one pass + the score probe
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("per_sample", [False, True])
def test_explicit_mixture_derivative_of_llc_and_loss_increase(per_sample):
    """llc = nβ(L − L*) and loss_increase() = L − L* read the mixture: their explicit derivative
    (1/nβ)·∂φ/∂ε toward a component (or sample) is (y − y*) and (y − y*)/nβ; observables on one
    component do not read the mixture and get zero rows."""
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("llc", prim("llc")), spec("la", prim("loss", component="a")),
             spec("inc", prim("loss_increase")), spec("incb", prim("loss_increase", component="b"))]
    obs = build_observer(model, specs, components(), MIX, probe=6, seed=3, nbeta=25.0,
                         per_sample=per_sample)
    assert obs.mixture_dependent == [True, False, True, False]
    _, y_star, _ = obs.evaluate(None)
    x, y, _ = obs.evaluate(perturbed(model, 3, 0.05, 0))
    dx = obs.explicit(x)
    assert dx.shape == (3, 4, y.shape[1])
    np.testing.assert_allclose(dx[:, 0].numpy(), (y - y_star).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dx[:, 2].numpy(), (y - y_star).numpy() / 25.0, rtol=1e-4, atol=1e-7)
    assert not dx[:, [1, 3]].any()
    # the moments carry it into χ = −Cov + ⟨dx⟩
    obs(perturbed(model, 3, 0.05, 1))
    obs(perturbed(model, 3, 0.05, 2))
    chi = obs.chi()
    assert chi.explicit is not None and np.any(chi.explicit[0]) and not np.any(chi.explicit[1])


def test_free_energy_is_loss_term_plus_llc_and_its_explicit_derivative():
    """free_energy(n) = (n/log n)·L(w*) + llc: its explicit derivative adds the center's loss
    differences y* scaled by n/(nβ·log n) to the LLC's (y − y*)."""
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    n, nbeta = 1000, 25.0
    specs = [spec("llc", prim("llc")), spec("F", prim("free_energy", n=n))]
    obs = build_observer(model, specs, components(), MIX, probe=6, seed=3, nbeta=nbeta)
    x0, y_star, L_star = obs.evaluate(None)
    assert float(x0[0, 1]) == pytest.approx(n / np.log(n) * float(L_star[0]), rel=1e-5)
    x, y, _ = obs.evaluate(perturbed(model, 3, 0.05, 0))
    np.testing.assert_allclose((x[:, 1] - x[:, 0]).numpy(), n / np.log(n) * float(L_star[0]),
                               rtol=1e-5)
    dx = obs.explicit(x)
    want = n / (nbeta * np.log(n)) * y_star.numpy() + (y - y_star).numpy()
    np.testing.assert_allclose(dx[:, 1].numpy(), want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("restricted", [False, True])
def test_native_chain_batched_observation_equals_vmap(restricted):
    """The stdlib transformer is observed through its chain-batched forward (no vmap); the values
    equal the vmap path's, with all parameters sampled or only some (a head restriction)."""
    model = AttnOnlyTransformer(vocab=VOCAB, d_model=32, n_layers=2, n_heads=4, context=CTX, seed=1)
    specs = [spec("llc", prim("llc")), spec("t5", prim("token_loss", component="b", position=5)),
             spec("ih", prim("induction_score", layer=1, period=8)),
             spec("pt", prim("previous_token_score", layer=0))]
    params = perturbed(model, 3, 0.05, 0)
    if restricted:
        params = {k: v for k, v in params.items() if k.startswith("blocks.1.attn.")}
    outs = []
    for native in (True, False):
        obs = build_observer(model, specs, components(), MIX, probe=6, seed=3, nbeta=25.0)
        obs.ctx._native = native
        outs.append(obs.evaluate(params))
        assert obs.ctx._native == native  # the native path was taken (and not abandoned)
    for a, b in zip(*outs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)

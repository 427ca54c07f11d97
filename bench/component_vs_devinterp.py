"""patternlang's component χ vs devinterp's ``susceptibilities()``: the same quantity, entry by entry.

``bench/vs_devinterp.py`` times the two libraries on devinterp's workload, but there they estimate
different things (patternlang's rows were component losses under the whole posterior; devinterp's
is the head-restricted loss change), so their χ were not comparable. Here both compute the
*component susceptibility matrix* of Baker et al. 2025 on one shared workload, with devinterp's
definition (``definition="devinterp"`` in :mod:`patternlang.engine.component_chi`):

    χ^C_xy = E_C[φ·(L − ℓ_xy)] − E_C[φ]·E_full[L − ℓ_xy],   φ = L(w) − L̂(w*),

rows C = every head of the model (one weight-restricted sampling each) plus the unrestricted "full"
sampling, columns = every predicted token of every probe sequence.

Shared workload: a 2-layer attention-only LM (``AttnOnlyTransformer``: vocab 64, d_model 64, 4 heads
of 16, context 32), w* = 200 seeded Adam steps on a mixture of 4 first-order Markov texts (equal
weights); probe = 8 sequences per component (32 in all, 992 token columns), the SAME sequences for
both (devinterp's sampling task observable ``mix`` = the 32 probes; L = their mean token loss, which
is patternlang's Σ_k h_k L_k); SGLD ε 1e-4 (``--eps``), nβ 30, γ 300, batch 32, 4 chains x
``--draws`` (default 200), no burn-in, same update rule (Δw = −ε/2·(nβ∇L + γ(w − w*)) + N(0, ε));
devinterp's minibatches from a fixed set of mixture sequences with independent shuffles per chain
(``match_sampling_input_ids_across_chains=False``: patternlang's chains are independent too),
patternlang's drawn fresh. L̂(w*): devinterp's ``init_loss`` (8 batches), handed to patternlang as
its ``init_loss`` so both use the same estimate (the estimator's E_C[φ] depends on it; reported also
with patternlang's own estimate, ``agreement_own_init``).

Checks:
* ``definition_exact``: patternlang's formula (:func:`part_row`) applied to devinterp's raw draws
  reproduces devinterp's ``susceptibilities()`` output (max relative difference).
* ``agreement``: patternlang's χ vs devinterp's, entry by entry: the fraction of entries within 2
  combined SE, sqrt(se_pl² + se_dev²) (each library's SE from its own draws by the same blocking /
  between-chain rule), and the correlation of the two matrices; also on the standardized matrices.
* ``speedup``: devinterp's CPU seconds / patternlang's, one torch thread each, same process.

Usage: ``PYTHONPATH=. python bench/component_vs_devinterp.py [--draws 200] [--quick]``; the last line
is one JSON object; ``--figure PATH`` writes the scatter of the two matrices.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VOCAB, D_MODEL, LAYERS, HEADS, D_HEAD, CTX = 64, 64, 2, 4, 16, 32
N_COMP, PROBE, BATCH, NBETA, GAMMA, CHAINS, INIT_BATCHES = 4, 8, 32, 30.0, 300.0, 4, 8


def make_model(center: str | None = None):
    from patternlang.models.attn_only import AttnOnlyTransformer

    m = AttnOnlyTransformer(vocab=VOCAB, d_model=D_MODEL, n_layers=LAYERS, n_heads=HEADS, d_head=D_HEAD,
                            context=CTX, seed=0)
    if center:
        m.load_state_dict(torch.load(center))
    return m


def make_components() -> dict:
    from patternlang.data.synthetic import markov_text

    return {f"c{k}": markov_text(vocab=VOCAB, length=CTX, order=1, seed=k) for k in range(N_COMP)}


def weights() -> dict:
    return {k: 1.0 / N_COMP for k in make_components()}


def train_center(path: Path, steps: int) -> str:
    from patternlang.data.mixture import Mixture
    from patternlang.models.losses import model_loss_fn

    model, loss_fn = make_model(), model_loss_fn("lm")
    mix = Mixture(list(make_components().values()), [1.0] * N_COMP)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(7)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model, mix.sample(BATCH, g)[0]).mean().backward()
        opt.step()
    torch.save(model.state_dict(), path)
    return str(path)


def parts() -> dict:
    from patternlang.engine.component_chi import expand_parts

    return expand_parts(["l*h*"], LAYERS, HEADS)


def sgld_config(draws: int, eps: float):
    from patternlang.engine.sampler.sgld import SGLDConfig

    return SGLDConfig(step_size=eps, gamma=GAMMA, nbeta=NBETA, num_chains=CHAINS, num_draws=draws, seed=0,
                      init_loss_batches=INIT_BATCHES)


def run_patternlang(center: str, draws: int, eps: float, init_loss: float | None, definition="devinterp"):
    from patternlang.observables.component import run_component_chi
    from patternlang.models.losses import model_loss_fn
    from patternlang.runtime.services.sampling import mixture_batches

    comps = make_components()
    bf = mixture_batches(comps, weights(), BATCH, torch.device("cpu"))
    t0, c0 = time.perf_counter(), time.process_time()
    chi, samples = run_component_chi(make_model(center), model_loss_fn("lm"), bf, comps, weights(), parts(),
                                     sgld_config(draws, eps), probe=PROBE, seed=0, columns="per_token",
                                     definition=definition, init_loss=init_loss)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}, chi, samples


def probe_tokens(center: str) -> tuple[torch.Tensor, list[str]]:
    """The observer's probes, concatenated in component order, and their token-column names."""
    from patternlang.observables.component import observer_for

    obs = observer_for(make_model(center), make_components(), weights(), probe=PROBE, seed=0, nbeta=NBETA,
                       columns="per_token")
    toks = torch.cat([obs.ctx.batch(k)["tokens"] for k in obs.tokens])
    return toks, [n for n in obs.comp_names if "@" in n]


def _dataset(tokens: torch.Tensor):
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": tokens.tolist()}).with_format("torch")


def head_masks(model, layer: int, head: int) -> dict:
    masks = {}
    params = dict(model.named_parameters())
    for name, index in model.head_parameters(layer, head).items():
        mask = torch.zeros_like(params[name], dtype=torch.bool)
        mask[index] = True
        masks[name] = mask
    return masks


def run_devinterp(center: str, draws: int, eps: float, probes: torch.Tensor, workdir: Path):
    """devinterp's susceptibilities() on the workload: (seconds, its sus [parts, tokens] in
    patternlang's column order, its raw draws as PartSamples for the same formula and SEs)."""
    from devinterp.slt.susceptibilities import susceptibilities
    import xarray as xr

    from patternlang.data.mixture import Mixture

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(12345)
    data = Mixture(list(make_components().values()), [1.0] * N_COMP).sample(BATCH * draws, g)[0]["tokens"]
    model = make_model(center)
    wrs = {"full": None, **{p: head_masks(model, int(p[1]), int(p[3])) for p in parts()}}
    t0, c0 = time.perf_counter(), time.process_time()
    out = susceptibilities(model, _dataset(data), {"mix": (_dataset(probes), len(probes) // BATCH)}, wrs,
                           sampling_task="mix", include_sampling_task=True, lr=eps, n_beta=NBETA,
                           localization=GAMMA, num_chains=CHAINS, num_draws=draws, batch_size=BATCH,
                           num_init_loss_batches=INIT_BATCHES, match_sampling_input_ids_across_chains=False,
                           output_path=workdir / "samples.zarr")
    seconds = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    trees = {wr: xr.open_datatree(str(workdir / f"samples_{wr}.zarr"), engine="zarr", consolidated=False)
             for wr in wrs}
    # devinterp's rows are a fixed shuffle of the probes: map them back to patternlang's order
    ids = trees["full"].dataset["input_ids_mix"].values
    while ids.ndim > 2:
        ids = ids[0]
    row_of = {tuple(r): i for i, r in enumerate(np.asarray(ids).tolist())}
    perm = np.array([row_of[tuple(r)] for r in probes.tolist()])
    ds = out["susceptibilities"].dataset
    sus = ds["sus"].values  # [flat (batch, position), wr]
    n, T1 = len(probes), CTX - 1
    b = ds["batch"].values.astype(int)
    t = ds["target_position"].values.astype(int) - 1
    mats = {}
    for j, wr in enumerate(ds["wr"].values.tolist()):
        m = np.zeros((n, T1))
        m[b, t] = sus[:, j]
        mats[wr] = m[perm].reshape(-1)
    init = float(trees["full"].dataset["init_loss"].values.mean())
    raw = {wr: _part_sample(tr.dataset["loss_mix"].values, perm, init) for wr, tr in trees.items()}
    return seconds, np.stack([mats[p] for p in parts()]), raw, init


def _part_sample(loss: np.ndarray, perm: np.ndarray, init_loss: float):
    """devinterp's per-(chain, draw, sequence, token) losses as patternlang's co-moments of φ = L with
    y = ℓ_xy − L (columns in patternlang's order)."""
    from patternlang.engine.component_chi import PartSample
    from patternlang.engine.moments import Comoments

    loss = np.asarray(loss, np.float64)[:, :, perm]  # [C, D, n, T-1]
    C, D = loss.shape[:2]
    L = loss.mean(axis=(2, 3))  # [C, D]
    y = loss.reshape(C, D, -1) - L[:, :, None]
    m = Comoments(C, 1, y.shape[2], 10, ("phi",), tuple(str(i) for i in range(y.shape[2])))
    for d in range(D):
        m.update(L[:, d:d + 1], y[:, d])
    return PartSample(m, init_loss)


def agreement(a, sa, b, sb) -> dict:
    se = np.sqrt(sa ** 2 + sb ** 2)
    ok = np.isfinite(se) & (se > 0)
    z = (a - b)[ok] / se[ok]
    return {"within_2se": round(float(np.mean(np.abs(z) <= 2)), 4),
            "within_3se": round(float(np.mean(np.abs(z) <= 3)), 4),
            "z_rms": round(float(np.sqrt(np.mean(z ** 2))), 3),
            "corr": round(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]), 4),
            "entries": int(ok.sum()),
            "resolved_pl": round(float(np.mean(np.abs(a) > 3 * sa)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--eps", type=float, default=1e-4)
    ap.add_argument("--quick", action="store_true", help="40 draws (smoke size)")
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--figure", type=str, default=None)
    args = ap.parse_args()
    draws = 40 if args.quick else args.draws
    torch.set_num_threads(1)
    from patternlang.engine.component_chi import component_chi, component_pca, standardize

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        center = train_center(Path(tmp) / "center.pt", args.train_steps)
        probes, cols = probe_tokens(center)
        try:
            dsec, dev_sus, raw, init = run_devinterp(center, draws, args.eps, probes, Path(tmp))
        except ImportError:
            print(json.dumps({"bench": "component_vs_devinterp", "skipped": "devinterp not installed"}))
            return
        psec, pchi, psamples = run_patternlang(center, draws, args.eps, init)
        _, pchi_own, _ = run_patternlang(center, draws, args.eps, None) if not args.quick else (None, None, None)
    names = list(parts())
    # the same formula on devinterp's own draws: the definition is the same
    dev_mine = component_chi({p: raw[p] for p in names}, raw["full"], "devinterp")
    exact = float(np.max(np.abs(dev_mine.chi - dev_sus)) / np.max(np.abs(dev_sus)))
    tok = [i for i, c in enumerate(pchi.comp_names) if "@" in c]
    a, sa = pchi.chi[:, tok], pchi.se[:, tok]
    b, sb = dev_mine.chi, dev_mine.se
    out = {"bench": "component_vs_devinterp", "settings": {
        "model": f"attn-only {LAYERS}x{HEADS} heads, d_model {D_MODEL}, vocab {VOCAB}, context {CTX}",
        "parts": names, "columns": f"{len(tok)} tokens ({N_COMP} x {PROBE} probe sequences x {CTX - 1})",
        "chains": CHAINS, "draws": draws, "eps": args.eps, "nbeta": NBETA, "gamma": GAMMA, "batch": BATCH,
        "center": f"{args.train_steps} Adam steps", "definition": "devinterp", "threads": 1},
        "definition_exact_max_rel": exact,
        "agreement": agreement(a, sa, b, sb),
        "agreement_standardized_corr": round(float(np.corrcoef(standardize(a).ravel(),
                                                               standardize(dev_sus).ravel())[0, 1]), 4),
        "pl_cpu": round(psec["cpu"], 2), "pl_wall": round(psec["wall"], 2),
        "devinterp_cpu": round(dsec["cpu"], 2), "devinterp_wall": round(dsec["wall"], 2),
        "speedup": round(dsec["cpu"] / psec["cpu"], 3), "ratio": round(dsec["cpu"] / psec["cpu"], 3),
        "goal": 1.3, "agreement_goal": 0.9, "speedup_wall": round(dsec["wall"] / psec["wall"], 3),
        "rel_se_pl": round(float(np.mean(sa) / np.mean(np.abs(a))), 3),
        "rel_se_dev": round(float(np.mean(sb) / np.mean(np.abs(b))), 3),
        "pca_pl": component_pca(a, names).to_dict(2), "pca_dev": component_pca(dev_sus, names).to_dict(2),
        "load_start": round(load0, 2), "load_end": round(os.getloadavg()[0], 2)}
    if pchi_own is not None:
        out["agreement_own_init"] = agreement(pchi_own.chi[:, tok], pchi_own.se[:, tok], b, sb)
    if args.figure:
        figure(a, sa, b, sb, names, args.figure, out)
    print(json.dumps(out))


def figure(a, sa, b, sb, names, path, out) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, p in enumerate(names):
        ax[0].scatter(b[i], a[i], s=3, alpha=0.5, label=p)
    lim = max(np.abs(a).max(), np.abs(b).max())
    ax[0].plot([-lim, lim], [-lim, lim], "k--", lw=0.8)
    ax[0].set_xlabel("devinterp susceptibilities()")
    ax[0].set_ylabel("patternlang component chi (definition=devinterp)")
    ag = out["agreement"]
    ax[0].set_title(f"per-token chi, {len(names)} heads: corr {ag['corr']:.3f}, "
                    f"{100 * ag['within_2se']:.0f}% within 2 SE", fontsize=9)
    ax[0].legend(fontsize=6, markerscale=3, ncol=2)
    z = ((a - b) / np.sqrt(sa ** 2 + sb ** 2)).ravel()
    z = z[np.isfinite(z)]
    ax[1].hist(z, bins=60, density=True, alpha=0.7)
    xs = np.linspace(-5, 5, 200)
    ax[1].plot(xs, np.exp(-xs ** 2 / 2) / math.sqrt(2 * math.pi), "k-", lw=0.8)
    ax[1].set_xlabel("(chi_pl - chi_dev) / combined SE")
    ax[1].set_title(f"speed: devinterp {out['devinterp_cpu']:.0f} s / patternlang {out['pl_cpu']:.0f} s "
                    f"CPU = {out['speedup']:.2f}x", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

"""Finite-difference check of a finished run's χ (calibration honesty, issue 6 item 5).

Re-samples the run's localized posterior under h' = (1 ∓ ε)·h ± ε·e_k with the *same* seeds as each
other (paired central difference, :func:`patternlang.engine.finite_diff.paired_finite_difference`)
and compares Δ⟨φ⟩ / (ε·nβ) with the covariance estimate χ[:, k] the run reported. Linear response says
they agree; at poorly calibrated nβ, γ, ε they can disagree by several times (DESIGN.md §1).

Usage (from the repository root, after ``patc run SPEC --out RUN``)::

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python examples/fd_check.py SPEC RUN COMPONENT [...] --eps 0.05

Writes ``RUN/fd_check.json`` and prints a markdown table (observable, χ ± se, χ_fd ± se, ratio, z).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch


def _sample_fn(step, ckpt: Path, seed: int):
    """``sample(weights) -> [C, draws, M]``: SGLD at ``ckpt`` with the run's sampler and observables;
    only the mixture the sampler's loss uses changes between calls (same seed every call)."""
    from patternlang.engine.sgld import run_sgld
    from patternlang.models.losses import model_loss_fn
    from patternlang.observables.observer import build_observer
    from patternlang.runtime.steps.common import build_components, build_model, derive_seed, load_weights
    from patternlang.runtime.steps.sample import _batch_fn, nbeta_of, sampler_config

    components = build_components(step.components)
    base = dict(step.mixture.weights)
    cfg = dataclasses.replace(sampler_config(step, seed), keep_observations=True)

    def sample(weights) -> np.ndarray:
        model = load_weights(build_model(step.model, device="cpu"), ckpt)
        observer = build_observer(model, step.observables, components, base, probe=step.probe,
                                  seed=derive_seed("probe", 0, step.id), nbeta=nbeta_of(step))
        res = run_sgld(model, model_loss_fn(model.task),
                       _batch_fn(components, dict(weights), step.sampler.batch, torch.device("cpu")),
                       cfg, observer=observer)
        return res.observations["x"]

    return sample, base


def main() -> None:
    from patternlang.compiler import compile_file
    from patternlang.engine.finite_diff import paired_finite_difference
    from patternlang.runtime.rundir import RunDir
    from patternlang.runtime.steps.common import derive_seed
    from patternlang.runtime.steps.sample import nbeta_of

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec"), ap.add_argument("run"), ap.add_argument("components", nargs="+")
    ap.add_argument("--eps", type=float, default=0.05)
    a = ap.parse_args()
    torch.set_num_threads(1)
    plan = compile_file(a.spec)
    hashes, run = plan.hashes(), RunDir(a.run)
    step = next(s for s in plan.steps if s.kind == "sample")
    tdir = run.step("train", step.at.train, hashes[step.at.train])
    seed0, ckpts = next(iter(tdir.summary()["checkpoints"].items()))
    ckpt = tdir.path / ckpts[str(step.at.step)]
    chi_id = next(s.id for s in plan.steps if s.kind == "susceptibility" and s.sample == step.id)
    chi = run.step("susceptibility", chi_id, hashes[chi_id]).summary()
    names, comps = chi["observables"], chi["components"]
    C, SE = np.asarray(chi["chi"]), np.asarray(chi["chi_se"])
    sample, base = _sample_fn(step, ckpt, derive_seed("fd", plan.seed, step.id, seed0))
    nbeta = nbeta_of(step)
    rows = []
    for comp in a.components:
        fd = paired_finite_difference(sample, base, comp, a.eps, nbeta, names, central=True)
        k = comps.index(comp)
        groups = {n: [i] for i, n in enumerate(names)}
        for owner in {n.split("[")[0] for n in names if "[" in n}:  # mean over heads, e.g. mean(ih)
            groups[f"mean({owner})"] = [i for i, n in enumerate(names) if n.startswith(owner + "[")]
        for label, idx in groups.items():
            c, s = C[idx, k].mean(), np.sqrt((SE[idx, k] ** 2).sum()) / len(idx)
            f, fs = fd.chi_fd[idx].mean(), np.sqrt((fd.chi_fd_se[idx] ** 2).sum()) / len(idx)
            rows.append({"observable": label, "component": comp, "chi": float(c), "chi_se": float(s),
                         "fd": float(f), "fd_se": float(fs), "ratio": float(f / c) if c else None,
                         "z": float((f - c) / np.hypot(s, fs)), "sign_agrees": bool(np.sign(f) == np.sign(c)),
                         "eps": a.eps, "central": fd.central})
    Path(a.run, "fd_check.json").write_text(json.dumps(rows, indent=1))
    print("| observable | component | χ (cov) ± se | χ (finite diff) ± se | fd ÷ cov | z | sign agrees |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['observable']} | {r['component']} | {r['chi']:+.2e} ± {r['chi_se']:.1e} | "
              f"{r['fd']:+.2e} ± {r['fd_se']:.1e} | {r['ratio']:.2f} | {r['z']:+.1f} | {r['sign_agrees']} |")


if __name__ == "__main__":
    main()

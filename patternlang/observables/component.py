"""Component susceptibilities in one call (:func:`run_component_chi`): the observer of one part's
sampling (φ = L against the requested columns) and every part's restricted sampling plus the full
one, joined by :func:`patternlang.engine.component_chi.component_chi`. Used by the benchmark
``bench/component_vs_devinterp.py`` and the tests; a spec's ``parts = [...]`` runs the same
samplings as plan steps instead (:mod:`patternlang.runtime.steps.susceptibility.component`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from patternlang.engine.chi import Chi
from patternlang.engine.component_chi import COLUMNS, FULL, PartSample, component_chi, phi_spec
from patternlang.errors import PatRuntimeError
from patternlang.observables.observer import build_observer


def observer_for(model, components: Mapping, weights: Mapping[str, float], *, probe: int, seed: int,
                 nbeta: float, columns: str = "per_sample", center_params=None,
                 pools: list[str] | None = None):
    """The observer of one component sampling: φ = L(w) against the requested columns."""
    if columns not in COLUMNS:
        raise PatRuntimeError("component_chi", f"columns = {columns!r}", f"use one of {', '.join(COLUMNS)}")
    return build_observer(model, [phi_spec(weights)], components, weights, probe, seed,
                          per_sample=columns == "per_sample" and not pools, nbeta=nbeta,
                          center_params=center_params, pools=pools,
                          per_token=columns == "per_token")


def run_component_chi(model, loss_fn, batch_fn, components: Mapping, weights: Mapping[str, float],
                      parts: Mapping[str, Sequence[str]], config, *, probe: int, seed: int = 0,
                      columns: str = "per_sample", definition: str = "covariance",
                      chain_groups: Sequence[Sequence[int]] | None = None,
                      init_loss: float | None = None) -> tuple[Chi, dict[str, PartSample]]:
    """Sample the full posterior and each part's restricted posterior with ``config`` (its
    ``restrict`` replaced by the part's selectors; the same seeds, probes and minibatch streams for
    every part), and return (the component χ, every sampling keyed by part and ``"full"``).
    ``init_loss``: a known L̂(w*) (default: estimated once by the full sampling, then shared)."""
    import dataclasses

    from patternlang.engine.sampler.sgld import run_sgld

    groups = [list(g) for g in (chain_groups or [range(config.num_chains)])]
    obs = observer_for(model, components, weights, probe=probe, seed=seed, nbeta=config.nbeta,
                       columns=columns)
    samples: dict[str, PartSample] = {}
    for name, sel in {FULL: (), **dict(parts)}.items():
        cfg = dataclasses.replace(config, restrict=tuple(sel))
        moments = None
        for g in groups:
            res = run_sgld(model, loss_fn, batch_fn, cfg, observer=obs, chain_ids=g, init_loss=init_loss)
            init_loss = res.init_loss  # L(w*) once: the same number for every part
            m = obs.reset()
            moments = m if moments is None else moments.merge(m)
        samples[name] = PartSample(moments, float(init_loss))
    full = samples[FULL]
    return component_chi({k: v for k, v in samples.items() if k != FULL}, full, definition), samples

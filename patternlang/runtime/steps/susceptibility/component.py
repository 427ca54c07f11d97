"""Component susceptibilities (``parts = [...]`` in a susceptibility block): join the full sampling
and each part's restricted sampling into the matrix χ[dL[part], column] (see
:mod:`patternlang.engine.component_chi` for the definitions), its standardized PCA and a figure.

Called by the ``susceptibility`` runner when the step has ``parts``. Outputs, beside the usual
``chi.npz`` / ``chi.json`` / ``principal.json`` (rows dL[part] over the mixture's components, what a
patterning inverts): ``component_chi.npz`` (every column: ``chi``, ``se``, ``names``, ``rows``, the
standardized matrix ``standardized``, PCA ``loadings`` [pc, part] and ``scores`` [pc, column],
``explained``), ``component_chi.json`` (definition, parts, columns, PCA summary) and
``component_pca.png`` (loadings of the first PCs per part; scores of the samples / tokens on PC 0
and 1, by data component). With ``per_sample = [pool]`` the pool columns also go to
``per_sample.npz`` (per-sample patterning, as for any susceptibility).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from patternlang.plan.ir import SampleStep, SusceptibilityStep
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import ChiResult, SampleResult
from patternlang.runtime.sample_types import ComponentRecord
from patternlang.runtime.rundir import atomic_save_npz, atomic_write_json
from patternlang.runtime.services.chi import combine, save_pools

if TYPE_CHECKING:
    from patternlang.engine.component_chi import PartSample


def _part_samples(step: SusceptibilityStep, ctx: StepContext
                  ) -> tuple[dict[str, PartSample], PartSample, SampleResult]:
    """(part -> PartSample, the full PartSample, the full SampleResult) at the first center."""
    from patternlang.engine.component_chi import PartSample
    from patternlang.engine.moments import Comoments

    def load(sid: str) -> tuple[PartSample, SampleResult]:
        res = ctx.result(sid, SampleResult)
        d = ctx.input_dir(sid)
        m = Comoments.from_state(dict(np.load(d.file(res.moments[0]))))
        return PartSample(m, float(res.centers[0].init_loss)), res

    full, full_res = load(step.sample)
    return {p: load(sid)[0] for p, sid in step.parts.items()}, full, full_res


def data_component(column: str) -> str:
    """``k`` of a column ``k``, ``k[i]`` or ``k[i]@t``."""
    return column.split("[", 1)[0]


def run_component_susceptibility(step: SusceptibilityStep, ctx: StepContext) -> ChiResult:
    from patternlang.engine.component_chi import component_chi, component_pca
    from patternlang.engine.component_chi import pc_count, standardize, with_pc_rows

    parts, full, full_res = _part_samples(step, ctx)
    chi = component_chi(parts, full, step.definition)
    sample = ctx.plan.step_as(step.sample, SampleStep)
    k = len(sample.mixture.weights)
    names = list(chi.comp_names)
    # the standardized PCA over the finest columns there are (tokens, else samples, else components)
    tok = [j for j, n in enumerate(names) if "@" in n]
    cols = _pca_columns(step.pca, k, len(names), tok)
    fine = chi.columns(cols)
    pca = component_pca(fine.chi, list(step.parts), list(fine.comp_names))
    # rows pc[r]: the parts' loss changes combined along PC r (what `raise chi.pc[r]` moves)
    ext = with_pc_rows(chi, pca, fine.chi.std(axis=1), pc_count(len(step.parts)))
    comps = ext.columns(slice(0, k))
    result, merged, _ = combine([comps], sample, ctx.nbeta(step.sample), step.standardize)
    result.observable_of = [n.split("[", 1)[0] for n in result.observables]
    expr = sample.observables[0].expr.model_dump(mode="json")
    result.observable_exprs = {"dL": expr, "pc": expr}
    if sample.pools:
        result.per_sample = save_pools([ext.columns(slice(k, tok[0] if tok else None))], sample, ctx)
    merged.save(ctx.dir.file("chi.npz"), ctx.dir.file("chi.json"))
    atomic_write_json(ctx.dir.file("principal.json"), result.principal.model_dump(mode="json"))

    atomic_save_npz(ctx.dir.file("component_chi.npz"), chi=chi.chi, se=chi.se,
                    names=np.array(names, dtype=str), rows=np.array(list(step.parts), dtype=str),
                    pca_columns=np.array(list(fine.comp_names), dtype=str),
                    standardized=standardize(fine.chi), loadings=pca.loadings, scores=pca.scores,
                    explained=pca.explained, singular_values=pca.singular_values)
    figure = _figure(pca, ctx.dir.file("component_pca.png"))
    summary = {"definition": step.definition,
               "parts": {p: list(ctx.plan.step_as(sid, SampleStep).sampler.restrict)
                         for p, sid in step.parts.items()},
               "columns": len(fine.comp_names), "file": "component_chi.npz",
               "figure": figure, "pca": pca.to_dict(4),
               "score_by_component": _score_by_component(pca, 4)}
    atomic_write_json(ctx.dir.file("component_chi.json"), summary)
    result.component = ComponentRecord.model_validate(summary)
    return result


def _pca_columns(which: str, k: int, n: int, tok: list[int]) -> slice:
    """The columns the PCA runs over: ``finest`` = tokens, else samples, else components."""
    from patternlang.errors import PatRuntimeError

    samples = slice(k, tok[0] if tok else n)
    have = {"components": slice(0, k), "tokens": slice(tok[0], tok[-1] + 1) if tok else None,
            "samples": samples if samples.stop > k else None}
    if which == "finest":
        return have["tokens"] or have["samples"] or have["components"]
    if have[which] is None:
        raise PatRuntimeError("susceptibility", f"pca = {which}, but there are no {which} columns",
                              "measure them (columns = per_token / per_sample) or pick other columns")
    return have[which]


def _score_by_component(pca, top: int) -> dict:
    """Mean score of each data component's columns on each of the first PCs."""
    groups: dict[str, list[int]] = {}
    for j, c in enumerate(pca.columns):
        groups.setdefault(data_component(c), []).append(j)
    return {g: [float(pca.scores[r, idx].mean()) for r in range(min(top, len(pca.scores)))]
            for g, idx in groups.items()}


def _figure(pca, path) -> str | None:
    """Loadings of PCs 0-2 per part, and the columns' scores on PC 0 / PC 1 by data component."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    n = min(3, len(pca.singular_values))
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(pca.parts))
    for r in range(n):
        ax[0].bar(x + (r - (n - 1) / 2) * 0.8 / n, pca.loadings[r], width=0.8 / n,
                  label=f"PC{r} ({100 * pca.explained[r]:.0f}%)")
    ax[0].set_xticks(x, pca.parts, rotation=45, fontsize=8)
    ax[0].axhline(0, color="k", lw=0.6)
    ax[0].set_title("component loadings (standardized chi)", fontsize=9)
    ax[0].legend(fontsize=7)
    if len(pca.scores) > 1:
        groups: dict[str, list[int]] = {}
        for j, c in enumerate(pca.columns):
            groups.setdefault(data_component(c), []).append(j)
        for g, idx in groups.items():
            ax[1].scatter(pca.scores[0, idx], pca.scores[1, idx], s=4, alpha=0.6, label=g)
        ax[1].set_xlabel("PC0 score")
        ax[1].set_ylabel("PC1 score")
        ax[1].legend(fontsize=7, markerscale=3)
    ax[1].set_title("sample / token scores by data component", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name if hasattr(path, "name") else str(path)

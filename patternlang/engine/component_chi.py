"""Component susceptibilities: the χ matrix of "Structural Inference" (Baker et al. 2025).

A *part* C of the model (an attention head, a layer, the embedding) is observed through the loss
change under the posterior restricted to C's weights (every other weight held at w*):

    φ_C(w) = L(w) − L(w*),   w ~ p_C(w) ∝ exp(−nβ·L(w) − γ/2·|w − w*|²)·δ(u − u*),

with L the mixture's loss on the probe sets (Σ_k h_k L_k, held at the base mixture: no explicit
term). Its susceptibility to a column j — a data component k (y = L_k − L), a probe sequence
(y = ℓ_{k,i} − L, ``per_sample``) or one predicted token of one (y = ℓ_{k,i,t} − L, ``per_token``)
— has two definitions, selected by ``definition``:

* ``"covariance"`` (patternlang's default): χ^C_j = −Cov_C(φ_C, y_j), the covariance within the
  restricted posterior. It is exactly (1/nβ)·d⟨φ_C⟩_C/dε when the mixture moves toward j, so the
  solver's Δ⟨φ⟩ ≈ nβ·χ·Δh holds for it and a patterning can target it; it does not depend on the
  estimate of L(w*).
* ``"devinterp"``: the estimator of devinterp's ``susceptibilities()`` (appendix C.4 of
  arXiv 2504.18274): E_C[φ·(L − ℓ)] − E_C[φ]·E_full[L − ℓ], centred with the *full* (unrestricted)
  chain's mean, and φ's offset L̂(w*) the sampler's initial-loss estimate. Written with the
  covariance, χ_dev = χ_cov − E_C[φ]·(E_C[y] − E_full[y]). It comes from the paper's observable
  δ(u − u*)·[L(w) − L(w*)] averaged over the *full* posterior: −Cov_full of that observable equals
  (Z_C/Z_full)·χ_dev, with Z_C/Z_full the restricted posterior's share of the full one's mass — a
  factor that depends on C and is unknown. χ_dev is therefore Z_full/Z_C times the paper's χ; the
  standardized matrix (each component's row z-scored over its columns, :func:`standardize`) does
  not see the factor, which is why the field reads χ only through it.

Standard errors: blocking and between-chain, as :func:`~patternlang.engine.chi.estimate_chi`, for the
covariance; the devinterp form adds E_C[φ]²·(se(E_C y)² + se(E_full y)²) for the mean difference
(between-chain spreads of the chain means), and takes the larger of that and the between-chain
spread of per-chain χ_dev.

The pieces come from the ordinary machinery: one sampling per part with ``restrict`` = the part's
selectors, observing the single observable φ = Σ_k h_k·loss(k) (:func:`phi_spec`) with the wanted
columns (:class:`~patternlang.observables.observer.Observer`: components, ``per_sample``,
``per_token``), and one unrestricted ("full") sampling; :func:`component_chi` joins their
co-moments into one :class:`~patternlang.engine.chi.Chi` whose rows are the parts (in one call:
:func:`patternlang.observables.component.run_component_chi`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from patternlang.engine.chi import Chi, estimate_chi
from patternlang.engine.moments import Comoments
from patternlang.errors import PatRuntimeError

if TYPE_CHECKING:
    from patternlang.plan.ir import ObservableSpec

DEFINITIONS = ("covariance", "devinterp")
COLUMNS = ("components", "per_sample", "per_token")
FULL = "full"
PHI = "phi"
_HEAD = re.compile(r"^l(\d+|\*)h(\d+|\*)$")
# parts by alias: parameter globs (the stdlib transformer's names; other models: write the globs)
ALIASES = {"embed": ("embed.*", "pos_embed.*"), "unembed": ("unembed.*",)}


def expand_parts(selectors: Sequence[str], layers: int | None = None,
                 heads: int | None = None) -> dict[str, tuple[str, ...]]:
    """Part name -> restriction selectors. A head pattern with ``*`` (``l1h*``, ``l*h*``) becomes one
    part per head (``layers`` x ``heads`` needed); ``embed`` / ``unembed`` are aliases; anything else
    (a parameter glob such as ``blocks.0.*``) is one part named by itself."""
    out: dict[str, tuple[str, ...]] = {}
    for sel in selectors:
        m = _HEAD.match(sel)
        if m and "*" in sel:
            if layers is None or heads is None:
                raise PatRuntimeError("component_chi", f"part {sel!r} needs the model's layers and "
                                      "heads", "name heads one by one (l0h0, l0h1, ...)")
            ls = range(layers) if m.group(1) == "*" else [int(m.group(1))]
            hs = range(heads) if m.group(2) == "*" else [int(m.group(2))]
            names = [f"l{la}h{h}" for la in ls for h in hs]
            for n in names:
                out[n] = (n,)
        else:
            out[sel] = ALIASES.get(sel, (sel,))
    if FULL in out:
        raise PatRuntimeError("component_chi", "'full' is the unrestricted sampling, not a part",
                              "leave it out: it always runs")
    return out


def phi_spec(weights: Mapping[str, float]) -> ObservableSpec:
    """φ = L(w) = Σ_k h_k·loss(k) on the probe sets, as an observable that does not read the mixture
    (so χ is the covariance alone: the base mixture's loss is the thing observed)."""
    from patternlang.plan.ir import ObsExpr, ObservableSpec

    total = float(sum(weights.values()))
    terms = [ObsExpr(op="mul", operands=[ObsExpr(op="const", value=float(w) / total),
                                         ObsExpr(op="prim", name="loss", args={"component": k})])
             for k, w in weights.items() if w > 0]
    expr = terms[0] if len(terms) == 1 else ObsExpr(op="add", operands=terms)
    return ObservableSpec(name=PHI, expr=expr, doc="mixture loss on the probes")


@dataclass
class PartSample:
    """One sampling's co-moments of φ (one x column) with the columns, and its L(w*) estimate."""

    moments: Comoments
    init_loss: float


def _chain_means(m: Comoments) -> tuple[np.ndarray, np.ndarray]:
    """(per-chain mean of x [C, 1], of y [C, K])."""
    n = np.maximum(m.n, 1)[:, None]
    return m.sx / n, m.sy / n


def _se_of_mean(per_chain: np.ndarray) -> np.ndarray:
    C = per_chain.shape[0]
    return per_chain.std(axis=0, ddof=1) / np.sqrt(C) if C > 1 else np.full(per_chain.shape[1:], np.nan)


def part_row(part: PartSample, full: PartSample, definition: str = "covariance"
             ) -> dict[str, np.ndarray]:
    """χ of one part over the columns, its SEs, and what the devinterp form adds."""
    if definition not in DEFINITIONS:
        raise PatRuntimeError("component_chi", f"definition {definition!r}",
                              f"use one of {', '.join(DEFINITIONS)}")
    cov = estimate_chi(part.moments)  # rows: φ only
    chi, se_b, se_c = cov.chi[0], cov.se_batch[0], cov.se_chain[0]
    out = {"chi_cov": chi.copy(), "se_batch": se_b, "se_chain": se_c, "sd_phi": cov.sd_obs[0],
           "sd_col": cov.sd_comp, "mean_phi": cov.mean_obs[0] - part.init_loss}
    if definition == "devinterp":
        mx_c, my_c = _chain_means(part.moments)  # [C, 1], [C, K]
        _, my_f = _chain_means(full.moments)
        n_c, n_f = part.moments.n[:, None], full.moments.n[:, None]
        my_pool = (my_c * n_c).sum(0) / n_c.sum()
        mf_pool = (my_f * n_f).sum(0) / n_f.sum()
        phi_bar = float(cov.mean_obs[0]) - full.init_loss
        shift = phi_bar * (my_pool - mf_pool)
        N = float(part.moments.n.sum())
        chi = chi * (N - 1) / N - shift  # devinterp's plain means: the covariance over N, not N − 1
        se_mean = np.sqrt(np.nan_to_num(_se_of_mean(my_c)) ** 2 + np.nan_to_num(_se_of_mean(my_f)) ** 2)
        se_b = np.sqrt(se_b ** 2 + (phi_bar * se_mean) ** 2)
        per_chain = -part.moments.cov_per_chain()[:, 0, :] - (mx_c - full.init_loss) * (my_c - mf_pool)
        se_c = _se_of_mean(per_chain) if per_chain.shape[0] > 1 else se_c
        out.update(mean_phi=phi_bar, shift=shift)
    out.update(chi=chi, se_batch=se_b, se_chain=se_c, se=np.fmax(se_b, se_c))
    return out


def component_chi(parts: Mapping[str, PartSample], full: PartSample,
                  definition: str = "covariance") -> Chi:
    """The component susceptibility matrix: rows = parts (``dL[part]``), columns = the samplings'
    columns (all samplings must observe the same columns)."""
    names = list(full.moments.comp_names)
    rows = {}
    for p, s in parts.items():
        if list(s.moments.comp_names) != names:
            raise PatRuntimeError("component_chi", f"part {p!r} observed other columns than the full "
                                  "sampling", "sample every part with the same probes and columns")
        rows[p] = part_row(s, full, definition)
    def stack(k: str) -> np.ndarray:
        return np.stack([r[k] for r in rows.values()])

    chains = min(s.moments.chains for s in parts.values())
    draws = min(s.moments.draws for s in parts.values())
    return Chi(stack("chi"), stack("se"), stack("se_batch"), stack("se_chain"),
               [f"dL[{p}]" for p in rows], names,
               np.array([r["mean_phi"] for r in rows.values()]),
               np.array([r["sd_phi"] for r in rows.values()]),
               np.asarray(full_sd_col(parts)), chains, draws,
               {"definition": definition, "parts": list(rows)})


def full_sd_col(parts: Mapping[str, PartSample]) -> np.ndarray:
    """sd of each column y over the parts' draws (pooled by averaging variances)."""
    v = np.mean([np.maximum(s.moments.var_y(), 0) for s in parts.values()], axis=0)
    return np.sqrt(v)


# ---------------------------------------------------------------- the standardized matrix and PCA

def standardize(chi: np.ndarray) -> np.ndarray:
    """The paper's standardized matrix, in patternlang's orientation (rows = parts, columns = data).

    In the paper's orientation X[token, component] the rows (tokens) are centred and the columns
    (components) z-scored. Here that is: each part's row is z-scored over its columns (mean 0, sd 1
    over the tokens/samples — this removes the part's scale, hence any C-dependent normalization
    such as the devinterp estimator's Z_full/Z_C, exactly), then each column is centred over the
    parts (what every part shares at that token is removed). A constant row stays zero."""
    X = np.asarray(chi, dtype=np.float64)
    mu = X.mean(axis=1, keepdims=True)
    sd = X.std(axis=1, keepdims=True)
    Z = np.where(sd > 0, (X - mu) / np.where(sd > 0, sd, 1.0), 0.0)
    return Z - Z.mean(axis=0, keepdims=True)


@dataclass
class ComponentPCA:
    """PCA of the standardized matrix Z [parts, columns] = U·diag(s)·Vᵀ.

    ``loadings[r]`` (U's column, one value per part) is how each part loads on PC r;
    ``scores[r]`` (s_r·V's column, one value per data column) is each token's / sample's score.
    Signs: every PC's largest |loading| is positive."""

    singular_values: np.ndarray
    explained: np.ndarray
    loadings: np.ndarray  # [r, parts]
    scores: np.ndarray  # [r, columns]
    parts: list[str]
    columns: list[str]

    def to_dict(self, top: int = 4) -> dict[str, Any]:
        k = min(top, len(self.singular_values))
        return {"singular_values": self.singular_values[:k].tolist(),
                "explained": self.explained[:k].tolist(),
                "loadings": [dict(zip(self.parts, map(float, self.loadings[r]))) for r in range(k)],
                "columns": len(self.columns)}


def component_pca(chi: Chi | np.ndarray, parts: list[str] | None = None,
                  columns: list[str] | None = None) -> ComponentPCA:
    """PCA of :func:`standardize` (χ) — the paper's "principal components of the susceptibilities"."""
    X = chi.chi if isinstance(chi, Chi) else np.asarray(chi)
    # (without names, a plain array's rows and columns are named by their indices)
    parts = list(parts or cast(Sequence[str], chi.obs_names if isinstance(chi, Chi) else range(X.shape[0])))
    columns = list(columns or cast(Sequence[str], chi.comp_names if isinstance(chi, Chi) else range(X.shape[1])))
    Z = standardize(X)
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    for r in range(len(s)):
        if U[np.argmax(np.abs(U[:, r])), r] < 0:
            U[:, r], Vt[r] = -U[:, r], -Vt[r]
    total = float((s ** 2).sum())
    explained = s ** 2 / total if total > 0 else np.zeros_like(s)
    return ComponentPCA(s, explained, U.T.copy(), s[:, None] * Vt, [str(p) for p in parts],
                        [str(c) for c in columns])


def separation(pca: ComponentPCA, group: Sequence[str]) -> list[dict[str, Any]]:
    """For each PC, how well its loadings separate ``group`` (e.g. the induction heads) from the
    other parts: the gap between the group's and the others' loadings (sign-aligned so the group is
    on the positive side) over the spread of all loadings. ``separates``: every group member loads
    above every other part."""
    idx = [pca.parts.index(g) for g in group]
    rest = [i for i in range(len(pca.parts)) if i not in idx]
    out = []
    for r, row in enumerate(pca.loadings):
        if pca.explained[r] < 1e-9:  # the constant direction the column centring removed
            continue
        sign = 1.0 if row[idx].mean() >= row[rest].mean() else -1.0
        a, b = sign * row[idx], sign * row[rest]
        out.append({"pc": r, "sign": sign, "explained": float(pca.explained[r]),
                    "separates": bool(a.min() > b.max()), "margin": float(a.min() - b.max()),
                    "gap": float((a.mean() - b.mean()) / (row.std() or 1.0))})
    return out


def pc_count(parts: int) -> int:
    """How many ``pc[r]`` rows a component susceptibility of ``parts`` parts carries (the
    standardized matrix has rank <= parts − 1 after its columns are centred over the parts)."""
    return max(0, min(4, parts - 1))


def with_pc_rows(chi: Chi, pca: ComponentPCA, scale: np.ndarray, count: int) -> Chi:
    """χ with ``count`` more rows ``pc[r]``: the observable Σ_C u_rC·φ_C / s_C (u_r = PC r's loadings,
    s_C = part C's row scale in the standardization), whose χ is the same combination of the parts'
    rows — exact, since χ is linear in φ. Raising ``pc[r]`` moves the parts' loss changes along PC
    r's loadings (in standardized units): this is how a patterning moves along a principal component
    (``raise chi.pc[0] by A``; per-sample with ``samples = [pool]``). The parts are sampled
    independently, so the SEs and sds combine in quadrature."""
    scale = np.where(np.asarray(scale) > 0, scale, 1.0)
    W = pca.loadings[:count] / scale[None, :]
    W2 = W ** 2
    def q(a: Any) -> np.ndarray:
        return np.sqrt(W2 @ np.nan_to_num(np.asarray(a)) ** 2)

    return Chi(np.vstack([chi.chi, W @ chi.chi]), np.vstack([chi.se, q(chi.se)]),
               np.vstack([chi.se_batch, q(chi.se_batch)]), np.vstack([chi.se_chain, q(chi.se_chain)]),
               list(chi.obs_names) + [f"pc[{r}]" for r in range(count)], list(chi.comp_names),
               np.concatenate([chi.mean_obs, W @ chi.mean_obs]),
               np.concatenate([chi.sd_obs, np.sqrt(W2 @ np.asarray(chi.sd_obs) ** 2)]),
               chi.sd_comp, chi.chains, chi.draws, {**chi.meta, "pc_rows": count})

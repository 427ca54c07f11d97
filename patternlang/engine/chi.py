"""Susceptibilities χ from accumulated co-moments, their standard errors and principal directions.

Definition (DESIGN.md §1): for an observable φ and a data component k of the mixture q = Σ h_k q_k,

    χ_{φ,k} = (1/nβ)·d⟨φ⟩/dε  along h' = (1−ε)·h + ε·e_k   =   −Cov_p[φ(w), L_k(w) − L(w)],

so that a small mixture change Δh moves the posterior means by Δ⟨φ⟩ ≈ nβ·χ·Δh. The covariance is
pooled over all draws of all chains.

An observable that itself reads the mixture — ``llc`` = nβ·(L(w) − L(w*)), ``loss_increase()`` —
changes with ε too, and its whole derivative has a second, *explicit* term:

    χ_{φ,k} = (1/nβ)·d⟨φ⟩/dε = −Cov_p[φ, L_k − L] + (1/nβ)·⟨∂φ/∂ε⟩_p.

For the LLC, (1/nβ)·⟨∂λ̂/∂ε⟩ = ⟨L_k − L⟩ − (L_k − L)(w*): how much more the posterior's spread
costs on component k than on the mixture (a data-refined LLC difference, over nβ); for
``free_energy(n)`` it also carries the loss term (n / (nβ·log n))·(L_k − L)(w*). The observer
records ∂φ/∂ε per draw (:mod:`patternlang.observables.observer`); ``Chi.explicit`` keeps the term
for inspection.

Two standard errors are reported:

* ``se_batch``: blocking — the spread of the influence (x − x̄)(y − ȳ) − dx averaged over blocks
  of 1, 2, 4, ... consecutive batches of draws, over √(number of blocks), at the first level whose
  blocks are uncorrelated (else the largest over the levels with at least 8 blocks;
  :meth:`Comoments.batch_se`). Accounts for autocorrelation up to a block's length and, through
  the pooled means, for chains that sit in different places.
* ``se_chain``: between chains — the spread of per-chain covariances divided by √C; accounts for
  chains that have not mixed with each other.

``se`` is the larger of the two (NaN ones ignored), the honest choice when they disagree.

Every entry also carries ``z = χ / se`` (|z| >= 3: resolved, see
:mod:`patternlang.engine.solve.resolved`) and an effective sample size ``ess``: the number of
independent draws that would give the same standard error, (sd_φ²·sd_y² + Cov²) / se² (the
variance of a product of jointly Gaussian centred variables, over se²).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np

from patternlang.engine.moments import Comoments
from patternlang.errors import PatRuntimeError


@dataclass
class Chi:
    """A susceptibility matrix χ[M observables, K components] with standard errors and names."""

    chi: np.ndarray
    se: np.ndarray
    se_batch: np.ndarray
    se_chain: np.ndarray
    obs_names: list[str]
    comp_names: list[str]
    mean_obs: np.ndarray
    sd_obs: np.ndarray
    sd_comp: np.ndarray
    chains: int
    draws: int
    meta: dict[str, Any] = field(default_factory=dict)
    explicit: np.ndarray | None = None
    """The explicit term (1/nβ)·⟨∂φ/∂ε⟩ included in ``chi`` (zero rows for observables that do not
    read the mixture; None = not recorded)."""
    trend: np.ndarray | None = None
    """The part of −χ that the chains' linear trends over their draws make
    (:meth:`Comoments.trend_cov`): χ + trend is χ with every chain's drift removed."""

    @property
    def z(self) -> np.ndarray:
        """χ / se per entry (NaN where se is 0 or NaN)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.se > 0, self.chi / self.se, np.nan)

    @property
    def ess(self) -> np.ndarray:
        """Effective sample size per entry: (sd_φ²·sd_y² + Cov²) / se² (NaN where se is 0 or NaN)."""
        cov = self.chi - (self.explicit if self.explicit is not None else 0.0)
        per_draw = np.outer(self.sd_obs ** 2, self.sd_comp ** 2) + cov ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.se > 0, per_draw / self.se ** 2, np.nan)

    def value(self, obs: str, comp: str) -> float:
        return float(self.chi[self.obs_names.index(obs), self.comp_names.index(comp)])

    def stderr(self, obs: str, comp: str) -> float:
        return float(self.se[self.obs_names.index(obs), self.comp_names.index(comp)])

    def columns(self, cols: slice) -> Chi:
        """The same estimate restricted to some components (columns), e.g. the component columns
        of a per-sample χ without its per-example ones."""
        ex = None if self.explicit is None else self.explicit[:, cols]
        tr = None if self.trend is None else self.trend[:, cols]
        return Chi(self.chi[:, cols], self.se[:, cols], self.se_batch[:, cols], self.se_chain[:, cols],
                   list(self.obs_names), list(self.comp_names[cols]), self.mean_obs, self.sd_obs,
                   self.sd_comp[cols], self.chains, self.draws, dict(self.meta), ex, tr)

    def to_json_dict(self) -> dict[str, Any]:
        def table(a: np.ndarray) -> dict[str, Any]:
            return {o: {c: float(a[i, j]) for j, c in enumerate(self.comp_names)}
                    for i, o in enumerate(self.obs_names)}

        out = {"obs_names": self.obs_names, "comp_names": self.comp_names, "chains": self.chains,
               "draws": self.draws, "chi": table(self.chi), "se": table(self.se), "z": table(self.z),
               "ess": table(self.ess),
               "mean_obs": dict(zip(self.obs_names, map(float, self.mean_obs))), "meta": self.meta}
        if self.explicit is not None and np.any(self.explicit):
            out["chi_explicit"] = table(self.explicit)
        return out

    def save(self, npz_path: str | Path, json_path: str | Path) -> None:
        """Write the arrays to ``npz_path`` and a named, human-readable copy to ``json_path``
        (each atomically, through an unguessable temporary name: :mod:`patternlang.atomic`)."""
        import io

        from patternlang.atomic import atomic_write_bytes

        arrays = {k: getattr(self, k) for k in ("chi", "se", "se_batch", "se_chain", "mean_obs",
                                                 "sd_obs", "sd_comp")}
        arrays["obs_names"] = np.array(self.obs_names, dtype=str)
        arrays["comp_names"] = np.array(self.comp_names, dtype=str)
        arrays["shape"] = np.array([self.chains, self.draws])
        if self.explicit is not None:
            arrays["explicit"] = self.explicit
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(npz_path, buf.getvalue())
        atomic_write_bytes(json_path, json.dumps(self.to_json_dict(), indent=1,
                                                 allow_nan=True).encode())

    @classmethod
    def load(cls, npz_path: str | Path, json_path: str | Path | None = None) -> Chi:
        with np.load(npz_path) as z:
            meta = json.loads(Path(json_path).read_text()).get("meta", {}) if json_path else {}
            return cls(z["chi"], z["se"], z["se_batch"], z["se_chain"],
                       [str(s) for s in z["obs_names"]], [str(s) for s in z["comp_names"]],
                       z["mean_obs"], z["sd_obs"], z["sd_comp"], int(z["shape"][0]),
                       int(z["shape"][1]), meta, z["explicit"] if "explicit" in z else None)  # noqa: SIM401 (an NpzFile)


def estimate_chi(moments: Comoments, obs_names: list[str] | None = None,
                 comp_names: list[str] | None = None) -> Chi:
    """χ = −Cov(x, y) + ⟨dx⟩ pooled over chains (the explicit term ⟨dx⟩ is zero for observables
    that do not read the mixture), with blocking and between-chain standard errors."""
    obs_names = list(obs_names or moments.obs_names or [f"obs{i}" for i in range(moments.n_obs)])
    comp_names = list(comp_names or moments.comp_names or [f"comp{k}" for k in range(moments.n_comp)])
    if len(obs_names) != moments.n_obs or len(comp_names) != moments.n_comp:
        raise PatRuntimeError("susceptibility", f"{len(obs_names)} observable / {len(comp_names)} "
                              f"component names for a {moments.n_obs}x{moments.n_comp} accumulator",
                              "pass one name per observable coordinate and per component")
    explicit = moments.explicit()
    chi = -moments.cov() + explicit
    se_batch = moments.batch_se()
    C = moments.chains
    if C > 1 and moments.draws >= 2:
        per_chain = -moments.cov_per_chain() + moments.explicit_per_chain()
        se_chain = per_chain.std(axis=0, ddof=1) / np.sqrt(C)
    else:
        se_chain = np.full_like(chi, np.nan)
    se = np.fmax(se_batch, se_chain)  # fmax ignores a NaN side
    return Chi(chi, se, se_batch, se_chain, obs_names, comp_names, moments.mean_x(),
               np.sqrt(np.maximum(moments.var_x(), 0)), np.sqrt(np.maximum(moments.var_y(), 0)),
               C, moments.draws, explicit=explicit, trend=moments.trend_cov())


@dataclass
class Principal:
    """Principal susceptibility directions: X = U·diag(s)·Vᵀ for the standardized χ.

    ``structure[r]`` is the r-th structural mode, a loading per observable (U's columns);
    ``data[r]`` the matching data direction, a loading per component (V's columns); moving the
    mixture along ``data[r]`` moves the observables along ``structure[r]`` with gain ``s[r]``.
    """

    singular_values: np.ndarray
    explained: np.ndarray
    structure: np.ndarray  # [r, M]
    data: np.ndarray  # [r, K]
    obs_names: list[str]
    comp_names: list[str]
    standardized: bool

    def loadings(self, r: int) -> tuple[dict[str, float], dict[str, float]]:
        """Mode ``r`` as ({observable: loading}, {component: loading})."""
        return (dict(zip(self.obs_names, map(float, self.structure[r]))),
                dict(zip(self.comp_names, map(float, self.data[r]))))


def standardized_matrix(chi: Chi) -> np.ndarray:
    """χ_{ik} / (sd φ_i · sd(L_k − L)) = −Corr(φ_i, L_k − L): unit-free, so observables measured in
    nats, probabilities or attention mass weigh alike. Zero-variance rows/columns stay zero."""
    return standardize_chi(chi.chi, chi.sd_obs, chi.sd_comp)


def standardize_chi(chi: np.ndarray, sd_obs: np.ndarray, sd_comp: np.ndarray) -> np.ndarray:
    """:func:`standardized_matrix` from plain arrays (χ, sd of each observable, sd of each L_k − L)."""
    so = np.where(np.asarray(sd_obs) > 0, sd_obs, np.inf)
    sc = np.where(np.asarray(sd_comp) > 0, sd_comp, np.inf)
    return np.asarray(chi, dtype=np.float64) / so[:, None] / sc[None, :]


def principal_directions(chi: Chi, standardize: bool = True) -> Principal:
    """SVD of χ (standardized to −correlations by default). Signs are fixed so that the largest
    structural loading of every mode is positive (deterministic output)."""
    X = standardized_matrix(chi) if standardize else np.asarray(chi.chi, dtype=np.float64)
    return principal_of_matrix(X, list(chi.obs_names), list(chi.comp_names), standardize)


def principal_of_matrix(X: np.ndarray, obs_names: list[str], comp_names: list[str],
                        standardized: bool) -> Principal:
    """The SVD of an (already standardized or raw) χ matrix with the sign convention of
    :func:`principal_directions`: every structure vector's largest loading is positive."""
    if not np.all(np.isfinite(X)):
        raise PatRuntimeError("susceptibility", "chi has non-finite entries",
                              "check the sample step's diagnostics (diverged chains?)")
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    for r in range(len(s)):
        if U[np.argmax(np.abs(U[:, r])), r] < 0:
            U[:, r], Vt[r] = -U[:, r], -Vt[r]
    total = float((s ** 2).sum())
    explained = s ** 2 / total if total > 0 else np.zeros_like(s)
    return Principal(s, explained, U.T.copy(), Vt.copy(), list(obs_names), list(comp_names),
                     standardized)

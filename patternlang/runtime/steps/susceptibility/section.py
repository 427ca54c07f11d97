"""The susceptibility step's report section: χ as a heatmap with its singular spectrum, the
finite-difference check beside it, and the component susceptibilities' PCA (issue 24)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from patternlang.runtime import figures
from patternlang.runtime.markdown import Section, table
from patternlang.runtime.results_types import ChiResult
from patternlang.runtime.rundir import safe_name
from patternlang.runtime.sample_types import ComponentRecord


def section(s: Section) -> list[str]:
    """The susceptibility step's report section: the χ heatmap, the singular spectrum, the finite-difference check and the component susceptibilities."""
    sid, r, figdir = s.step_id, s.of(ChiResult), s.figdir
    chi, se = np.asarray(r.chi, float), np.asarray(r.chi_se, float)
    p1 = figures.chi_heatmap(chi, r.observables, r.components, figdir / f"chi-{safe_name(sid)}.png",
                             se=se, title=f"χ = -Cov(φ, L_k - L)  ({sid})")
    lines = [f"### Susceptibilities: `{sid}`", "",
             "χ[φ, k] = −Cov(φ, L_k − L) over the localized posterior; Δ⟨φ⟩ ≈ nβ·χ·Δh. "
             "Positive: moving weight toward component k raises ⟨φ⟩.", "",
             f"![chi heatmap](figures/{p1.name})", ""]
    if r.principal.singular_values:
        p2 = figures.singular_spectrum(r.principal.singular_values, figdir / f"spectrum-{safe_name(sid)}.png")
        lines += [f"![singular spectrum](figures/{p2.name})", "",
                  "Variance explained by principal directions: "
                  + ", ".join(f"{v:.1%}" for v in r.principal.variance_explained[:5]), ""]
    if r.finite_difference:
        lines += ["Finite-difference check at the first center (paired runs at h' = (1 ∓ ε)h ± ε·e_k, "
                  "χ_fd = Δ⟨φ⟩/(ε·nβ), beside χ at that center; |z| ≲ 3: the two estimates agree "
                  "within their errors):", "",
                  table(["observable", "component", "χ (linear response)", "± SE", "χ (finite diff)", "± SE",
                          "ratio", "z", "sign agrees"],
                         [[f.observable, f.component, f.chi, f.chi_se, f.fd, f.fd_se, f.ratio, f.z,
                           f.sign_agrees] for f in r.finite_difference]), ""]
    lines += [f"- warning: {w}" for w in r.warnings]
    if r.component is not None:  # component susceptibilities (issue 24)
        lines += component_lines(sid, r.component, figdir)
    return lines


def component_lines(sid: str, comp: ComponentRecord, figdir: Path) -> list[str]:
    """The report's part for a component susceptibility: definition, the PCA figure (copied from the
    step's directory) and a table of loadings on the first PCs."""
    lines = [f"Component susceptibilities (definition: {comp.definition}): rows dL[part] = the loss "
             "change under the posterior restricted to that part's weights; standardized (each part's "
             "row z-scored over the columns, each column centred over the parts) before the PCA "
             f"over {comp.columns} columns.", ""]
    src = sorted((figdir.parent / "steps").glob(f"{safe_name(sid)}-*/{comp.figure or 'none'}"))
    if src:
        dst = figdir / f"component-{safe_name(sid)}.png"
        shutil.copyfile(src[-1], dst)
        lines += [f"![component PCA](figures/{dst.name})", ""]
    pca = comp.pca
    parts = list(pca.loadings[0]) if pca.loadings else []
    head = ["PC", "explained"] + parts
    rows = [[r, f"{pca.explained[r]:.1%}"] + [f"{pca.loadings[r][p]:+.2f}" for p in parts]
            for r in range(len(pca.loadings))]
    lines += ["| " + " | ".join(map(str, head)) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows] + [""]
    return lines

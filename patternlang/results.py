"""A run's results from Python: :class:`Results` reads ``results.json`` (schema:
``docs/results.md``) and offers the numbers a notebook wants, as attributes and as tables.

    from patternlang.results import Results
    r = Results.load("runs/quickstart")
    r.weights            # {"repeats": 0.41, ...}: the first solve step's new weights
    r.chi["chi"]         # the first susceptibility: chi, chi_se, observables, components, ...
    print(r.headline)    # LLCs, old -> new weights, verification onsets
    r.chi_frame()        # pandas DataFrame: observable, component, chi, chi_se
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("Results.*_frame() return pandas DataFrames: pip install 'patternlang[pandas]'") from None
    return pandas


def _first(section: dict, step: str | None) -> Any:
    if step is not None:
        if step not in section:
            raise KeyError(f"no step {step!r}; there are: {', '.join(section) or 'none'}")
        return section[step]
    return next(iter(section.values()), None)


@dataclass
class Results:
    """A run's ``results.json`` (``data``) and its directory, with accessors."""

    data: dict
    run_dir: Path

    @classmethod
    def load(cls, run_dir: str | Path) -> "Results":
        """The results of the run in ``run_dir`` (``patc run`` or ``patc report`` wrote them)."""
        path = Path(run_dir) / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run `patc run SPEC --out {run_dir}` "
                                    f"or `patc report {run_dir}` first")
        from patternlang.runtime.schema import upgrade_document

        return cls(upgrade_document(json.loads(path.read_text(encoding="utf-8"))), Path(run_dir))

    # -- one step -------------------------------------------------------------------------------
    def result(self, step_id: str):
        """A finished step's typed result (:mod:`patternlang.runtime.results_types`):
        ``result("solve.accelerate")`` is a ``SolveResult`` (``.final_weights``, ``.predicted``,
        ``.rounds``), ``result("sample.chi")`` a ``SampleResult``, ..."""
        from patternlang.runtime.results_types import SECTIONS, parse_result

        for section in SECTIONS.values():
            if step_id in self.data.get(section, {}):
                return parse_result(self.data[section][step_id])
        raise KeyError(f"no finished step {step_id!r} in {self.run_dir / 'results.json'}")

    def solve(self, step: str | None = None) -> dict | None:
        """A solve step's entry (``baseline``, ``final_weights``, ``predicted``, ``rounds``, ...)."""
        return _first(self.data.get("solves", {}), step)

    def solution(self, step: str | None = None) -> dict | None:
        """The earlier name of :meth:`solve` (kept: notebooks call it)."""
        return self.solve(step)

    def susceptibility(self, step: str | None = None) -> dict | None:
        """A susceptibility step's entry (``chi``, ``chi_se``, ``observables``, ``components``, ...)."""
        return _first(self.data.get("susceptibilities", {}), step)

    # -- attributes -----------------------------------------------------------------------------
    @property
    def weights(self) -> dict[str, float] | None:
        """The first solve step's new mixture weights ``{component: h'}`` (after all rounds)."""
        sol = self.solve()
        return sol["final_weights"] if sol else None

    @property
    def chi(self) -> dict | None:
        """The first susceptibility step's entry."""
        return self.susceptibility()

    @property
    def headline(self) -> str:
        """A few lines a person reads first: LLCs, the new weights, warnings (unresolved targets,
        finite-difference checks contradicting χ, a step scan without plateau), verification onsets,
        and last the run's verdict (:mod:`patternlang.runtime.run_verdict`): whether to trust the
        weights, per target, and why."""
        lines = []
        for sid, llc in self.data.get("llc", {}).items():
            lines.append(f"{sid}: LLC {llc['llc_mean']:.3g} ± {llc['llc_se']:.2g} "
                         f"(nbeta {llc['nbeta']:.3g})")
        for sid, sol in self.data.get("solves", {}).items():
            if sol.get("final_weights"):
                w = ", ".join(f"{k} {sol['baseline'][k]:.3f}->{v:.3f}" for k, v in sol["final_weights"].items())
                lines.append(f"{sid}: {w}")
            lines += [f"{sid}: warning: {x}" for r in sol.get("rounds") or []
                      for x in r["solve"].get("warnings") or []]
        for sid, sus in self.data.get("susceptibilities", {}).items():
            lines += [f"{sid}: warning: {x}" for x in sus.get("warnings") or []]
        for sid, llc in self.data.get("llc", {}).items():
            lines += [f"{sid}: warning: {x}" for x in (llc.get("step_scan") or {}).get("warnings", [])]
        for sid, ver in self.data.get("verification", {}).items():
            for k, v in (ver.get("headline") or {}).items():
                lines.append(f"{sid}: {k}: {v}")
        from patternlang.runtime.run_verdict import RunVerdict, verdict_lines

        verdict = self.data.get("verdict")
        lines += verdict_lines(RunVerdict.model_validate(verdict) if verdict else None)
        return "\n".join(lines)

    # -- tables ---------------------------------------------------------------------------------
    def chi_frame(self, step: str | None = None):
        """chi as a long table: one row per (observable coordinate, component), with its standard
        error and ``z = chi / chi_se`` (an entry is resolved at |z| >= 3; None where SE is 0)."""
        pd, c = _pandas(), self.susceptibility(step) or {}
        rows = [(o, k, c["chi"][i][j], c["chi_se"][i][j], _z(c["chi"][i][j], c["chi_se"][i][j]))
                for i, o in enumerate(c.get("observables", [])) for j, k in enumerate(c["components"])]
        return pd.DataFrame(rows, columns=["observable", "component", "chi", "chi_se", "z"])

    def weights_frame(self, step: str | None = None):
        """Current and new weights per component, and their difference."""
        pd, sol = _pandas(), self.solve(step) or {}
        new = sol.get("final_weights") or {}
        rows = [(k, h, new.get(k), None if new.get(k) is None else new[k] - h)
                for k, h in (sol.get("baseline") or {}).items()]
        return pd.DataFrame(rows, columns=["component", "current", "new", "delta"])

    def curves_frame(self, step: str | None = None):
        """Verification curves in long form: arm, seed, step, observable, value."""
        pd, ver = _pandas(), _first(self.data.get("verification", {}), step) or {}
        rows = [(arm, seed_i, t, obs, v)
                for arm, a in ver.get("arms", {}).items() for obs, per_seed in a.get("curves", {}).items()
                for seed_i, values in zip(a.get("seeds", range(len(per_seed))), per_seed)
                for t, v in zip(ver["steps"], values)]
        return pd.DataFrame(rows, columns=["arm", "seed", "step", "observable", "value"])

    def tracked_frame(self, step: str | None = None):
        """Observables tracked during training (``track``): seed, step, observable, value."""
        pd, tr = _pandas(), _first(self.data.get("tracked", {}), step) or {}
        rows = [(int(seed), t, obs, v) for seed, per_obs in tr.get("seeds", {}).items()
                for obs, values in per_obs.items() for t, v in zip(tr["steps"], values)]
        return pd.DataFrame(rows, columns=["seed", "step", "observable", "value"])

    def measures_frame(self, step: str | None = None):
        """A measure step's values (``observations`` of results.json): seed, observable, value."""
        pd, m = _pandas(), _first(self.data.get("observations", {}), step) or {}
        rows = [(r["seed"], obs, v) for r in m.get("per_seed", []) for obs, v in r["values"].items()]
        return pd.DataFrame(rows, columns=["seed", "observable", "value"])


def _z(chi: float | None, se: float | None) -> float | None:
    """chi / SE, or None where either is missing or SE is 0."""
    return None if chi is None or not se else float(chi) / float(se)

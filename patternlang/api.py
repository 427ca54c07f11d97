"""The Python twin of ``patc``: compile and run specs from code.

    import patternlang
    results = patternlang.run("specs/quickstart.pat", out="runs/qs")
    results.weights("solve.accelerate")      # new mixture weights by component
    results.chi("susceptibility.chi")        # chi matrix with names and errors
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patternlang.runtime.progress import Progress


@dataclass
class Results:
    """A run's ``results.json`` with accessors (schema: ``docs/results.md``)."""

    data: dict
    run_dir: Path

    def weights(self, solve_id: str | None = None) -> dict[str, float] | None:
        sols = self.data["solutions"]
        if not sols:
            return None
        return sols[solve_id or next(iter(sols))]["final_weights"]

    def chi(self, step_id: str | None = None) -> dict:
        chis = self.data["susceptibilities"]
        return chis[step_id or next(iter(chis))]

    def headline(self) -> str:
        """A few lines a person reads first: LLCs, the new weights, verification onsets."""
        lines = []
        for sid, llc in self.data["llc"].items():
            lines.append(f"{sid}: LLC {llc['llc_mean']:.3g} ± {llc['llc_se']:.2g} "
                         f"(nbeta {llc['nbeta']:.3g})")
        for sid, sol in self.data["solutions"].items():
            w = ", ".join(f"{k} {sol['baseline'][k]:.3f}->{v:.3f}"
                          for k, v in sol["final_weights"].items())
            lines.append(f"{sid}: {w}")
        for sid, ver in self.data["verification"].items():
            for k, v in (ver.get("headline") or {}).items():
                lines.append(f"{sid}: {k}: {v}")
        return "\n".join(lines)


def run(spec: str | Path, out: str | Path, *, resume: bool = False, device: str = "auto",
        seed: int | None = None, progress: Progress | None = None,
        search_path: list[str] | None = None) -> Results:
    """Compile ``spec`` and execute its plan into ``out``; return the results.

    Completed steps already in ``out`` under the same content hash are re-used (change a target and
    only the solve, verify and report steps run again). ``resume`` also continues partially
    completed steps of an interrupted run.
    """
    from patternlang.compiler import compile_file
    from patternlang.runtime.executor import execute
    from patternlang.runtime.rundir import read_json

    plan = compile_file(str(spec), search_path)
    if seed is not None:
        plan = plan.model_copy(update={"seed": seed})
    _copy_sources(spec, out)
    execute(plan, out, resume=resume, device=device, progress=progress)
    return Results(read_json(Path(out) / "results.json"), Path(out))


def _copy_sources(spec: str | Path, out: str | Path) -> None:
    from patternlang.runtime.rundir import atomic_write_bytes

    src = Path(spec)
    atomic_write_bytes(Path(out) / "spec" / src.name, src.read_bytes())

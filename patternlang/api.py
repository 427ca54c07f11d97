"""The Python twin of ``patc``: compile and run specs from code.

    import patternlang
    results = patternlang.run("specs/quickstart.pat", out="runs/qs")
    results.weights                          # new mixture weights by component
    results.chi                              # chi matrix with names and errors
    results.chi_frame()                      # ... as a pandas DataFrame

:class:`~patternlang.results.Results` (in :mod:`patternlang.results`) is what :func:`run` returns.
"""

from __future__ import annotations

from pathlib import Path

from patternlang.results import Results
from patternlang.runtime.progress import Progress

__all__ = ["Results", "run"]


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

    plan = compile_file(str(spec), search_path)
    if seed is not None:
        plan = plan.model_copy(update={"seed": seed})
    _copy_sources(spec, out)
    execute(plan, out, resume=resume, device=device, progress=progress)
    return Results.load(out)


def _copy_sources(spec: str | Path, out: str | Path) -> None:
    from patternlang.runtime.rundir import atomic_write_bytes

    src = Path(spec)
    atomic_write_bytes(Path(out) / "spec" / src.name, src.read_bytes())

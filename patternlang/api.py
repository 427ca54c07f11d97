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
from typing import TYPE_CHECKING, Callable

from patternlang.results import Results
from patternlang.runtime.options import RunOptions
from patternlang.runtime.progress import Progress

if TYPE_CHECKING:
    from patternlang.plan.ir import Plan

__all__ = ["Results", "run"]


def run(spec: str | Path, out: str | Path, *, resume: bool = False, device: str | None = None,
        options: RunOptions | None = None, seed: int | None = None,
        progress: Progress | None = None, search_path: list[str] | None = None,
        force: bool = False, on_plan: Callable[[Plan], None] | None = None) -> Results:
    """Compile ``spec`` and execute its plan into ``out``; return the results.

    Completed steps already in ``out`` under the same content hash are re-used (change a target and
    only the solve, verify and report steps run again). ``resume`` also continues partially
    completed steps of an interrupted run. ``out`` must be new, empty or a run directory: a
    non-empty directory of other files is refused unless ``force`` (see ``docs/results.md``).
    ``on_plan`` sees the compiled plan before anything runs (``patc run`` prints cost warnings).
    ``options`` says how to run (default: :meth:`RunOptions.from_env`, i.e. the ``PATTERNLANG_*``
    variables, else the defaults); ``device`` overrides its device.
    """
    from patternlang.compiler import compile_file

    plan = compile_file(str(spec), search_path)
    if seed is not None:
        plan = plan.model_copy(update={"seed": seed})
    if on_plan is not None:
        on_plan(plan)  # before the runtime (and torch) is imported: the user sees the plan at once
    from patternlang.runtime.executor import execute, file_error
    from patternlang.runtime.rundir import claim

    options = options or RunOptions.from_env()
    if device is not None:
        options = options.model_copy(update={"device": device})
    claim(out, force)
    try:
        _copy_sources(spec, out)
        execute(plan, out, options=options, resume=resume, progress=progress)
    except OSError as exc:  # outside any step: the run directory itself (read-only, full disk)
        raise file_error("run directory", exc) from exc
    return Results.load(out)


def _copy_sources(spec: str | Path, out: str | Path) -> None:
    from patternlang.runtime.rundir import RunDir, atomic_write_bytes

    src = Path(spec)
    atomic_write_bytes(RunDir(out).subdir("spec") / src.name, src.read_bytes())

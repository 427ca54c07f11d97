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
    from patternlang.runtime.claim import bind_spec, claim, locked

    options = options or RunOptions.from_env()
    if device is not None:
        options = options.model_copy(update={"device": device})
    claim(out, force)
    try:
        with locked(out):
            before = bind_spec(out, spec)
            _copy_sources(spec, out, plan, search_path)
            if before is not None:
                _say_spec_changed(out, before, spec, progress)
            execute(plan, out, options=options, resume=resume, progress=progress)
    except OSError as exc:  # outside any step: the run directory itself (read-only, full disk)
        raise file_error("run directory", exc) from exc
    return Results.load(out)


def _say_spec_changed(out: str | Path, before: str, spec: str | Path,
                      progress: Progress | None) -> None:
    """Tell (and log) that ``out`` held runs of another spec file: its ``spec/`` now shows this one."""
    from patternlang.runtime.rundir import RunDir

    message = (f"note: {out} held runs of {before}; it now runs {Path(spec).resolve()} (steps "
               "with the same content are re-used; spec/ shows this spec)")
    if progress is not None:
        progress.info(message)
    RunDir(out).log("spec_changed", before=before, spec=str(Path(spec).resolve()))


def _copy_sources(spec: str | Path, out: str | Path, plan: Plan,
                  search_path: list[str] | None) -> None:
    """``RUN/spec/``: the spec, the modules it uses and the factory modules in its folder, each at
    its path relative to the spec's folder (``_elsewhere/NAME`` for a module outside it); files an
    earlier run read and this one does not are removed, so it always shows what the last run
    read (also when the spec run is the copy in ``RUN/spec/`` itself)."""
    import os

    from patternlang.compiler import module_files
    from patternlang.compiler.fingerprints import factory_files
    from patternlang.runtime.rundir import RunDir, atomic_write_bytes

    src = Path(spec).resolve()
    if int(os.environ.get("RANK", "0")) > 0:
        return
    run = RunDir(out)
    copies = run.subdir("spec")
    factories = [p.resolve() for p in factory_files(plan).values() if p is not None]
    written: set[Path] = set()
    for f in [src, *module_files(spec, search_path),
              *(p for p in factories if src.parent in p.parents)]:
        rel = Path(os.path.relpath(f, src.parent))
        if rel.parts and rel.parts[0] == "..":
            rel = Path("_elsewhere") / f.name
        data = f.read_bytes()  # read first: the spec may be run from this very folder
        atomic_write_bytes(copies / rel, data)
        written.add((copies / rel).resolve())
    for old in list(copies.rglob("*")):  # what an earlier run's spec read, not this one
        if (old.is_file() or old.is_symlink()) and old.resolve() not in written:
            old.unlink()

"""Content fingerprints of what a plan reads besides the spec: data files (``text_file``,
``token_file``, component paths), checkpoint files, and the source of user factories.

A step's content hash (:meth:`patternlang.plan.ir.Plan.hashes`) covers its settings; a setting that
is a file path says nothing about the file's contents. :func:`fingerprints` hashes those contents at
compile time, and the plan folds them into the hash of every step that names the file or factory,
so editing a corpus or a factory's module makes those steps (and all downstream) run again instead
of reporting ``cached`` results of the old code and data.

Factories are located without importing them (``patc compile`` runs no user code): the module's
file is looked up on ``sys.path``, then in the spec's directory (the order the run imports in,
:mod:`patternlang.models.factory`), and its bytes are hashed (only the
module's own file; a factory whose behaviour depends on other files should name a version in its
``factory_args``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from patternlang.plan.ir import Plan, strings_in


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def module_file(module: str, extra: list[Path]) -> Path | None:
    """The source file of ``module`` (``pkg.mod``) on ``sys.path``, then ``extra``, found without
    importing anything; None when it is not a plain source file (then only its name is hashed)."""
    parts = module.split(".")
    for base in [*(Path(p or ".") for p in sys.path), *extra]:
        stem = base.joinpath(*parts)
        for cand in (stem.with_suffix(".py"), stem / "__init__.py"):
            if cand.is_file():
                return cand
    return None


def factory_files(plan: Plan) -> dict[str, Path | None]:
    """``{factory reference: the source file the run will import it from}`` (None: not a plain
    source file, e.g. an extension module or not found)."""
    spec_dir = [Path(plan.spec).resolve().parent] if not plan.spec.startswith("<") else []
    return {ref: module_file(ref.partition(":")[0], spec_dir) for ref in plan.factories}


def fingerprints(plan: Plan) -> dict[str, str]:
    """``{file path or factory reference: content digest}`` for everything the plan reads."""
    out: dict[str, str] = {}
    for ref, f in factory_files(plan).items():
        if f is not None:
            out[ref] = _digest(f)
    for s in sorted(strings_in([step.model_dump(mode="json") for step in plan.steps])):
        if s.startswith("/") and len(s) < 4096:
            p = Path(s)
            try:
                if p.is_file():
                    out[s] = _digest(p)
            except OSError:
                continue
    return out

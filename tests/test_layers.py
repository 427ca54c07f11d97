"""The import structure is the one docs/architecture.md describes: each package imports only from
the layers below it (function-level imports included), and plan/ imports nothing."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "patternlang"
BASE = {"errors", "__init__", "atomic"}  # errors, __version__, safe writes: open to everyone
L0 = BASE | {"plan", "registry", "extras", "catalog"}
L1 = L0 | {"models", "data"}
L2 = L1 | {"engine", "observables"}
FRONT = L0 | {"syntax", "check"}
ALLOWED = {
    "errors": set(), "atomic": {"errors"}, "plan": set(), "registry": BASE | {"catalog"}, "extras": BASE,
    "catalog": set(),
    "models": L0, "data": L1, "engine": L1, "observables": L2, "testing": L2,
    "syntax": BASE, "check": FRONT | {"engine"}, "compiler": FRONT | {"compiler", "engine"},
    "diagnostics_render": BASE, "stdlib_docs": FRONT,
    "highlight": FRONT, "lsp": FRONT | {"compiler"},
    "runtime": L2,
    "results": L2 | {"runtime"},
    "api": L2 | {"compiler", "runtime", "results"},
    "cli": L2 | FRONT | {"compiler", "runtime", "api", "results", "diagnostics_render",
                         "stdlib_docs", "lsp", "highlight"},
    "__main__": {"cli"}, "__init__": set(),
}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "patternlang":
            out.add(_unit(node.module))
        elif isinstance(node, ast.Import):
            out |= {_unit(a.name) for a in node.names if a.name.split(".")[0] == "patternlang"}
    return out


def test_every_package_imports_only_from_the_layers_below_it():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        unit = _unit(".".join(rel.parts))
        for target in _imports(path) - {unit} - ALLOWED[unit]:
            bad.append(f"{rel}: {unit} imports {target}")
    assert not bad, "\n".join(bad)


def test_the_runtime_services_do_not_import_the_step_runners():
    """sampling/training sit below the runners: they may use steps/common.py, no runner module."""
    for name in ("sampling.py", "training.py", "results_types.py", "options.py", "context.py"):
        text = (PKG / "runtime" / name).read_text(encoding="utf-8")
        imported = {line.split()[1] for line in text.splitlines()
                    if line.strip().startswith("from patternlang.runtime.steps")}
        assert imported <= {"patternlang.runtime.services.build"}, (name, imported)

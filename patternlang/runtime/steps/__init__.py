"""One package per plan step kind — ``train``, ``observe``, ``sample``, ``susceptibility``,
``solve``, ``verify`` — each with its runner (``runner.py``), its private helpers and its report
section (``section.py``). The step kinds are independent of each other (``pyproject.toml``,
import-linter): what two kinds share is a service (:mod:`patternlang.runtime.services`). The table
that maps a kind to its runner, result and section is :mod:`patternlang.runtime.kinds`; the report
step has no package here (the executor renders the report)."""

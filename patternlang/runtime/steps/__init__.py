"""One runner per plan step kind, each with its private helpers and its report section: ``train``
and ``observe`` (one module each) and the packages ``sample``, ``susceptibility``, ``solve`` and
``verify``. The step kinds are independent of each other (``pyproject.toml``, import-linter): what
two kinds share is a service (:mod:`patternlang.runtime.services`). The table that maps a kind to
its runner, result and section is :mod:`patternlang.runtime.kinds`; the report step has no module
here (the executor renders the report)."""

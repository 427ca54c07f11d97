"""patternlang: a declarative language and compiler for patterning neural networks.

Write a ``.pat`` spec (model, data components, observables, targets, constraints); ``patc compile``
lowers it to a :class:`~patternlang.plan.ir.Plan`; ``patc run`` executes it: training, localized SGLD,
susceptibilities chi, a constrained inverse solve for new data weights, and verification by retraining.
"""

__version__ = "0.1.0"


def compile_file(path, search_path=None):
    """Compile a ``.pat`` file to a :class:`~patternlang.plan.ir.Plan` (see :mod:`patternlang.compiler`)."""
    from patternlang.compiler import compile_file as _compile_file

    return _compile_file(path, search_path)


def run(spec, out, **kwargs):
    """Compile ``spec`` and execute it into the run directory ``out`` (see :func:`patternlang.api.run`)."""
    from patternlang.api import run as _run

    return _run(spec, out, **kwargs)

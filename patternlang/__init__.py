"""patternlang: a declarative language and compiler for patterning neural networks.

Write a ``.pat`` spec (model, data components, observables, targets, constraints); ``patc compile``
lowers it to a :class:`~patternlang.plan.ir.Plan`; ``patc run`` executes it: training, localized SGLD,
susceptibilities chi, a constrained inverse solve for new data weights, and verification by retraining.
"""

__version__ = "0.1.0"

"""Observables: stdlib observable primitives and the observation engine used at each draw.

Importing this package registers the primitives (``loss``, ``token_loss``, ``loss_increase``,
``llc``, ``induction_score``, ``previous_token_score``, ``duplicate_token_score``, ``icl_score``,
``p_balanced_ood``, ``nested_agreement``, ``equal_count_agreement``).
"""

from patternlang.observables import lm as _lm  # noqa: F401  (registers primitives)
from patternlang.observables import parens as _parens  # noqa: F401
from patternlang.observables.attention import AttentionModel, attention_adapter
from patternlang.observables.context import EvalContext, Labeled, ProbeOutput
from patternlang.observables.observer import Observer, build_observer, evaluate_expr

__all__ = ["AttentionModel", "attention_adapter", "EvalContext", "Labeled", "ProbeOutput",
           "Observer", "build_observer", "evaluate_expr"]

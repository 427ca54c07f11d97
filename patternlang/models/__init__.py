"""Stdlib models (registered as ``model`` primitives), losses, checkpoints and factories."""

from patternlang.models import attn_only as _attn_only  # noqa: F401  (registers primitives)
from patternlang.models import parens as _parens  # noqa: F401
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.parens import ParensTransformer

__all__ = ["AttnOnlyTransformer", "ParensTransformer"]

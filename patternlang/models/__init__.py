"""Stdlib models (registered as ``model`` primitives), losses, checkpoints and factories."""

from patternlang.models import attn_only as _attn_only  # noqa: F401  (registers primitives)
from patternlang.models import hf as _hf  # noqa: F401  (needs the [hf] extra only when called)
from patternlang.models import lens as _lens  # noqa: F401  (needs the [lens] extra when called)
from patternlang.models import parens as _parens  # noqa: F401
from patternlang.models.attn_only import AttnOnlyTransformer
from patternlang.models.parens import ParensTransformer

__all__ = ["AttnOnlyTransformer", "ParensTransformer"]

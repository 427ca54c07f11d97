"""Stdlib models (registered as ``model`` primitives), losses, checkpoints and factories."""

from patternlang.models import attn_only as _attn_only  # noqa: F401  (registers primitives)
from patternlang.models.attn_only import AttnOnlyTransformer

__all__ = ["AttnOnlyTransformer"]

"""Optional dependencies (the ``patternlang[lens]``, ``[hf]`` and ``[data]`` extras).

Primitives that need a library outside the core call :func:`require` when they run, never at import
time, so ``import patternlang`` and ``patc check`` work without the extras; a spec that uses such a
primitive without the extra installed fails with the command that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from patternlang.errors import PatRuntimeError

#: extra name -> what it installs (kept in step with pyproject.toml's optional-dependencies)
EXTRAS = {
    "lens": "transformer-lens (TransformerLens HookedTransformer models)",
    "hf": "transformers (Hugging Face causal language models)",
    "data": "datasets and tokenizers (Hugging Face datasets, fast BPE tokenizers)",
}


def require(module: str, extra: str, step: str) -> ModuleType:
    """Import ``module`` or raise a :class:`PatRuntimeError` naming the extra that provides it.

    Args:
        module: the import name (``"transformer_lens"``).
        extra: the patternlang extra that installs it (a key of :data:`EXTRAS`).
        step: what was being built, for the error message (``"model lens_transformer"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PatRuntimeError(step, f"the optional dependency {module!r} is not installed ({exc})",
                              f"pip install 'patternlang[{extra}]'  # {EXTRAS[extra]}") from exc

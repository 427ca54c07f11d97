"""Data components (registered as ``data`` primitives), mixtures, the tokenizer and corpora.

Importing this package registers the stdlib data primitives (see :mod:`patternlang.registry`).
"""

from patternlang.data import hf as _hf  # noqa: F401  (registers primitives; [data] extra when called)
from patternlang.data import parens as _parens  # noqa: F401  (registers primitives)
from patternlang.data import synthetic as _synthetic  # noqa: F401
from patternlang.data import text as _text  # noqa: F401
from patternlang.data.component import (Batch, ComponentError, DataComponent, ExampleComponent,
                                        GeneratedComponent, StreamComponent)
from patternlang.data.mixture import Mixture, stratified_counts

__all__ = ["Batch", "ComponentError", "DataComponent", "ExampleComponent", "GeneratedComponent",
           "Mixture", "StreamComponent", "stratified_counts"]

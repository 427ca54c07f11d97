"""The execution plan: a pydantic IR (``ir``), JSON-serialisable and versioned. Lowering from a
checked spec lives in :mod:`patternlang.compiler.lower`."""

"""The execution plan (IR), its lowering from a checked spec, and its explanation."""

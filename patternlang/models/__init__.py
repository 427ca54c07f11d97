"""models stage of patternlang (see docs/architecture.md)."""

"""Models with known answers (learning coefficients, susceptibilities) for tests and benchmarks."""

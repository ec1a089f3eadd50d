"""Side-by-side performance comparisons (never part of the test suite): `python -m benchmarks`."""

"""Benchmarks for the performance targets of DESIGN §9; ``python -m bench.run`` writes docs/PERFORMANCE.md."""

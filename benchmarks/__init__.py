"""Benchmarks of cxkit (run ``python -m benchmarks``; figures go to benchmarks/README.md)."""

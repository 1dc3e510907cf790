"""Benchmarks: plain scripts that print their figures (see docs/PERFORMANCE.md)."""

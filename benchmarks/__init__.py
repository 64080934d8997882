"""Benchmarks of orderarchive against the tools users know: run ``python -m benchmarks``."""

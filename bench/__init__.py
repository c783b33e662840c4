"""Benchmarks: each script measures ours against a named baseline in the same run and prints the ratio."""

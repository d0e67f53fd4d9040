"""Benchmarks: warmcase and its baseline, measured in the same run."""

"""Reproduction scripts: run_all and benchmarks."""

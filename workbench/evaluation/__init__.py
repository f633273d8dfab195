"""Metrics, tables, figures, goals and benchmarks."""

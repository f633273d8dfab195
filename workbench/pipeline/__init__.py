"""Cached, resumable stages of `experiments/run_all.py` and their code keys."""

"""The throughput harness: every method timed on the same profiles, the generator timed per drawn profile."""
from __future__ import annotations

import numpy as np

from experiments import bench_inference
from workbench.data.signals import GeneratorConfig, generate


def test_generator_method_draws_one_profile_per_batch_row():
    config = GeneratorConfig(length=64)
    kind, draw = bench_inference.generator_methods(config)["signal generator"]
    profiles, _ = draw(np.zeros((7, 64)))
    assert kind == "data generator" and profiles.shape == (7, 64)


def test_every_method_timed_at_every_batch_size():
    config = GeneratorConfig(length=64)
    profiles, _ = generate(config, 40, 3)
    methods = {**bench_inference.classical_methods(), **bench_inference.generator_methods(config)}
    timings = bench_inference.measure(methods, profiles, (1, 16), repeats=2, single_profiles=5)
    rows = [t.row() for t in timings]
    assert len(rows) == 2 * len(methods)
    assert {(r["method"], r["batch_size"]) for r in rows} == {(m, b) for m in methods for b in (1, 16)}
    assert all(r["profiles"] == (5 if r["batch_size"] == 1 else 40) and r["repeats"] == 2 for r in rows)
    assert all(r["pixels_per_s"] == r["profiles_per_s"] * 64 > 0 for r in rows)

"""Stage `benchmarks`: CPU throughput of every detector, side by side, on the same test profiles.

Runs `experiments/bench_inference.py` on the trained models (golden model, Keras float and integer
mode, TFLite int8, classical detectors) at batch sizes 1 and 1024, medians of repeated runs; writes
`tables/throughput.csv` and `report/benchmarks.md`.
"""
from __future__ import annotations

import csv

from experiments import bench_inference
from workbench.datasets import load_stage_splits
from workbench.pipeline import Stage, StageContext


def _markdown(rows: list[dict]) -> str:
    sizes = sorted({int(r["batch_size"]) for r in rows})
    lines = ["## Throughput on this CPU", "",
             "Median of repeated runs, every method timed in the same run on the same profiles "
             "(`tables/throughput.csv` has min/max). Mpixel/s:", "",
             "| method | kind | " + " | ".join(f"batch {s}" for s in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for method in methods:
        cells = {int(r["batch_size"]): float(r["pixels_per_s"]) / 1e6 for r in rows if r["method"] == method}
        kind = next(r["kind"] for r in rows if r["method"] == method)
        lines.append(f"| {method} | {kind} | " + " | ".join(f"{cells[s]:.3g}" if s in cells else "-" for s in sizes)
                     + " |")
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> None:
    s = ctx.settings
    splits = load_stage_splits(ctx.dep("datasets"))
    profiles = splits.test["mixed"].profiles[:s["profiles"]]
    calibration = splits.train.profiles[:100]
    bench_inference.run(ctx.dep("training") / "models", profiles, calibration, ctx.out, repeats=s["repeats"],
                        batch_sizes=tuple(s["batch_sizes"]), single_profiles=s["single_profiles"])
    with (ctx.out / "tables" / "throughput.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "benchmarks.md").write_text(_markdown(rows))


STAGE = Stage(
    name="benchmarks",
    run=run,
    depends=("datasets", "training"),
    code=("experiments.bench_inference", "workbench.artifacts", "workbench.benchmarking", "workbench.golden", "workbench.classical",
          "workbench.integer_mode", "workbench.tflite_baseline", "workbench.nn_detectors"),
    description="CPU throughput of every detector",
    settings={"quick": {"profiles": 1024, "single_profiles": 64, "repeats": 5, "batch_sizes": [1, 1024]},
              "full": {"profiles": 4096, "single_profiles": 256, "repeats": 7, "batch_sizes": [1, 1024]}},
)

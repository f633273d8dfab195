"""Stage `benchmarks`: CPU throughput of every detector and speed of every hardware simulator.

Runs `experiments/bench_inference.py` on the trained models (golden model, Keras float and integer
mode, TFLite int8, classical detectors) at batch sizes 1 and 1024 on the same test profiles, and
`experiments/bench_simulators.py` (MyHDL, GHDL with each back end installed, Icarus and Verilator on
the same design); medians
of repeated runs. MyHDL is timed on integer processes (what every simulation uses); the full run
also times MyHDL running the processes' source, the path before that translation (the quick run
leaves it out: it took about 90 s there). Writes `tables/throughput.csv` and `report/benchmarks.md`.
"""
from __future__ import annotations

import csv

from experiments import bench_inference, bench_simulators
from workbench.qnn.artifacts import pick_document
from workbench.qnn.contract import load_network
from workbench.data.datasets import load_stage_splits
from workbench.pipeline.stages import Stage, StageContext


def _simulators_markdown(rows: list[dict]) -> str:
    lines = ["", "Hardware simulation speed (same design in each simulator; GHDL, Icarus and Verilator time "
             "runs of a testbench built once, start-up included; Verilator on more profiles, repeated):", "",
             "| simulator | profiles | cycles/s | pixels/s |", "|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['profiles']} | {float(r['cycles_per_s']):.0f} | {float(r['pixels_per_s']):.0f} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def _markdown(rows: list[dict]) -> str:
    simulators = [r for r in rows if r["kind"] == "hdl simulator"]
    rows = [r for r in rows if r["kind"] != "hdl simulator"]
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
    return "\n".join(lines) + "\n" + _simulators_markdown(simulators)


def run(ctx: StageContext) -> None:
    s = ctx.settings
    splits = load_stage_splits(ctx.dep("datasets"))
    profiles = splits.test["mixed"].profiles[:s["profiles"]]
    calibration = splits.train.profiles[:100]
    models = ctx.dep("training") / "models"
    methods = {**bench_inference.network_methods(models, calibration), **bench_inference.classical_methods(),
               **bench_inference.offline_methods(splits.val.config),
               **bench_inference.generator_methods(splits.test["mixed"].config)}
    timings = bench_inference.measure(methods, profiles, tuple(s["batch_sizes"]), s["repeats"], s["single_profiles"])
    network = load_network(pick_document(models))
    for lanes in s["simulator_lanes"]:
        timings += bench_simulators.measure(network, profiles[:s["simulator_profiles"]], lanes, s["repeats"],
                                            myhdl_source=s["myhdl_source"])
    bench_inference.write_csv(timings, ctx.out / "tables" / "throughput.csv")
    with (ctx.out / "tables" / "throughput.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "benchmarks.md").write_text(_markdown(rows))


# the study mode (run_all --study) trains more networks; its later stages are the quick run's
QUICK = {"profiles": 1024, "single_profiles": 64, "repeats": 5, "batch_sizes": [1, 1024],
         "simulator_lanes": [1], "simulator_profiles": 2, "myhdl_source": False}

STAGE = Stage(
    name="benchmarks",
    run=run,
    depends=("datasets", "training"),
    description="CPU throughput of every detector",
    settings={"quick": QUICK, "study": QUICK,
              "full": {"profiles": 4096, "single_profiles": 256, "repeats": 7, "batch_sizes": [1, 1024],
                       "simulator_lanes": [1, 4], "simulator_profiles": 8,
                       "myhdl_source": True}},
)

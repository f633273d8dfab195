#!/usr/bin/env python3
"""Simulation speed of the streaming hardware in MyHDL, GHDL (VHDL) and Icarus (Verilog), side by side.

The same network, lane count and profiles in every simulator, `--repeats` times each; the median
gives cycles/s. MyHDL times `run_design` (elaboration included); GHDL and Icarus time one testbench
run (analysis, elaboration and start-up included), as a user would see them.

    python experiments/bench_simulators.py --model results/latest/models/qat_4-4.json --out bench/
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.evaluation.benchmarking import Timing  # noqa: E402
from workbench.qnn.contract import Network, load_network  # noqa: E402


def measure(network: Network, profiles: np.ndarray, lanes: int, repeats: int) -> list[Timing]:
    """Median-able timings of MyHDL, GHDL and Icarus on the same design and profiles."""
    from tqdm import tqdm

    from workbench.hdl.network import network_design
    from workbench.hdl.package import write_package
    from workbench.verify.simulators import require_pass
    from workbench.verify.vectors import golden_vectors
    from workbench.verify.check import run_testbench
    from workbench.verify.harness import run_design
    from workbench.hw.top import DEFAULT_PIPELINE_STAGES, build_top

    n, length = profiles.shape
    top = build_top(network, lanes, length, pipeline_stages=DEFAULT_PIPELINE_STAGES)
    timings = []
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        package = write_package(network_design(network, lanes, length), Path(tmp) / "hdl",
                                golden_vectors(network, profiles), document=network.document)
        runs = {"myhdl": lambda: run_design(top, profiles)}
        runs.update({sim: (lambda sim=sim: require_pass(run_testbench(package, sim), package.design["values"]))
                     for sim in ("ghdl", "icarus")})
        for name, run in tqdm(runs.items(), desc="simulators", unit="simulator"):
            seconds, cycles = [], 0
            for _ in range(repeats):
                result = run()
                seconds.append(result.seconds)
                cycles = result.cycles if name == "myhdl" else result.clocks
            timings.append(Timing(f"{name} simulation (P={lanes})", "hdl simulator", n, n, length,
                                  tuple(seconds), cycles))
    return timings


def main(argv: list[str] | None = None) -> int:
    from experiments.bench_inference import write_csv
    from workbench.verify.vectors import stress_profiles

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 document")
    parser.add_argument("--lanes", type=int, default=1, help="pixels per clock P")
    parser.add_argument("--profiles", type=int, default=4, help="profiles per run")
    parser.add_argument("--length", type=int, default=256, help="profile length L")
    parser.add_argument("--repeats", type=int, default=3, help="runs per simulator (median reported)")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="output folder (tables/simulation_speed.csv)")
    args = parser.parse_args(argv)
    network = load_network(args.model)
    profiles = stress_profiles(np.random.default_rng(0), args.profiles, args.length, network.input_bits)
    timings = measure(network, profiles, args.lanes, args.repeats)
    write_csv(timings, args.out / "tables" / "simulation_speed.csv")
    for timing in timings:
        print(f"{timing.method:<28} {timing.row()['cycles_per_s']:10.0f} cycles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

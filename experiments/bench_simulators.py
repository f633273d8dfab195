#!/usr/bin/env python3
"""Simulation speed of the streaming hardware in MyHDL, GHDL (VHDL, every back end installed), Icarus
and Verilator (Verilog), side by side.

The same network and lane count in every simulator, `--repeats` times each; the median gives
cycles/s. MyHDL times the simulation of `run_design` (elaboration and the integer translation not
included; the translation's seconds are printed) twice: with the generated processes run as their
integer translations (`workbench.verify.int_processes`, what `run_design` does) and, unless
`--no-myhdl-source`, as MyHDL runs their source (the path before that translation). GHDL, Icarus and Verilator time one
testbench run on a testbench built once (GHDL analysis and elaboration, the Icarus image, the
Verilator C++ build are not timed; their build seconds are printed). Verilator runs
`--fast-profiles` profiles (the given ones repeated): on a few profiles its process start-up
would dominate.

    python experiments/bench_simulators.py --model results/latest/models/qat_4-4.json --out bench/
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.evaluation.benchmarking import Timing  # noqa: E402
from workbench.qnn.contract import Network, load_network  # noqa: E402


def _hdl_timing(package, simulator: str, backend: str | None, vectors: Path, profiles: int, length: int,
                repeats: int) -> Timing:
    """Timings of `repeats` runs of one simulator's testbench, built once, on the vector folder `vectors`."""
    from workbench.verify.check import built_testbench
    from workbench.verify.simulators import GHDL_BACKENDS, require_pass

    expected = profiles * (length + 2)
    start = time.perf_counter()
    with built_testbench(package, simulator, ghdl_backend=backend) as run:
        print(f"{simulator} {backend or ''} build: {time.perf_counter() - start:.1f} s")
        verdicts = [require_pass(run(vectors=vectors), expected) for _ in range(repeats)]
    name = GHDL_BACKENDS[backend] if simulator == "ghdl" else simulator
    return Timing(f"{name} simulation (P={package.design['lanes']})", "hdl simulator", profiles, profiles, length,
                  tuple(v.seconds for v in verdicts), verdicts[0].clocks)


def measure(network: Network, profiles: np.ndarray, lanes: int, repeats: int, fast_profiles: int = 200,
            myhdl_source: bool = True) -> list[Timing]:
    """Median-able timings of MyHDL (integer processes, and with `myhdl_source` the source processes),
    GHDL (each installed back end), Icarus and Verilator on the same design."""
    from tqdm import tqdm

    from workbench.hdl.network import network_design
    from workbench.hdl.package import write_package
    from workbench.hw.top import DEFAULT_PIPELINE_STAGES, build_top
    from workbench.verify.harness import run_design
    from workbench.verify.simulators import installed_ghdl_backends
    from workbench.verify.vectors import golden_vectors, write_vectors

    n, length = profiles.shape
    top = build_top(network, lanes, length, pipeline_stages=DEFAULT_PIPELINE_STAGES)
    design = network_design(network, lanes, length)
    paths = (True, False) if myhdl_source else (True,)
    runs: dict[bool, list] = {integer: [] for integer in paths}
    for _ in range(repeats):  # the paths alternate, so that a change of load hits both alike
        for integer in paths:
            runs[integer].append(run_design(top, profiles, integer_processes=integer))
    print(f"myhdl integer translation: {np.median([r.extra['translate_seconds'] for r in runs[True]]):.2f} s")
    timings = [Timing(f"myhdl {'integer' if integer else 'source'} processes (P={lanes})", "hdl simulator", n, n,
                      length, tuple(r.seconds for r in done), done[0].cycles) for integer, done in runs.items()]
    runs = [("ghdl", backend, n) for backend in installed_ghdl_backends() if backend != "path"]
    runs += [("icarus", None, n), ("verilator", None, fast_profiles)]
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        package = write_package(design, Path(tmp) / "hdl", golden_vectors(network, profiles), document=network.document)
        fast = Path(tmp) / "fast"
        write_vectors(fast, design, golden_vectors(network, np.resize(profiles, (fast_profiles, length))))
        for simulator, backend, count in tqdm(runs, desc="simulators", unit="simulator"):
            timings.append(_hdl_timing(package, simulator, backend, fast if count != n else package.vectors,
                                       count, length, repeats))
    return timings


def main(argv: list[str] | None = None) -> int:
    from experiments.bench_inference import write_csv
    from workbench.verify.vectors import stress_profiles

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 document")
    parser.add_argument("--lanes", type=int, default=1, help="pixels per clock P")
    parser.add_argument("--profiles", type=int, default=4, help="profiles per run")
    parser.add_argument("--fast-profiles", type=int, default=200, help="profiles per Verilator run")
    parser.add_argument("--length", type=int, default=256, help="profile length L")
    parser.add_argument("--repeats", type=int, default=3, help="runs per simulator (median reported)")
    parser.add_argument("--no-myhdl-source", action="store_true",
                        help="leave out MyHDL running the processes' source (the slow path before the translation)")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="output folder (tables/simulation_speed.csv)")
    args = parser.parse_args(argv)
    network = load_network(args.model)
    profiles = stress_profiles(np.random.default_rng(0), args.profiles, args.length, network.input_bits)
    timings = measure(network, profiles, args.lanes, args.repeats, args.fast_profiles, not args.no_myhdl_source)
    write_csv(timings, args.out / "tables" / "simulation_speed.csv")
    for timing in timings:
        print(f"{timing.method:<34} {timing.row()['cycles_per_s']:10.0f} cycles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lockstep co-simulation: the converted Verilog in Icarus against the MyHDL model, every cycle.

Both copies share the clock, reset and input stream (`workbench.verify.beats`, gaps as in the
vector files); on every falling edge each output of the Verilog (through MyHDL's `Cosimulation`
and its Icarus VPI module) is compared with the same output of the MyHDL model. This checks the conversion itself, independently of the golden model.
The MyHDL model's processes run as their integer translations (`workbench.verify.int_processes`),
as in `workbench.verify.harness.run_design`.
"""
from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from workbench.errors import ToolchainError
from workbench.hdl.convert import convert_block
from workbench.hw.interface import INPUT_PORTS, OUTPUT_PORTS, StreamDesign
from workbench.verify.simulators import icarus_compile
from workbench.hdl.tools import find_tool, myhdl_vpi_path
from workbench.verify.beats import IDLE, RESET_CYCLES, drive_clocks, profile_clocks
from workbench.verify.int_processes import use_integer_processes


@dataclass(frozen=True)
class CosimResult:
    """Cycles run, output values compared and how many differed (first differences in `report`)."""

    cycles: int
    compared: int
    mismatches: int
    seconds: float
    report: tuple[str, ...]

    @property
    def cycles_per_second(self) -> float:
        """Co-simulated clock cycles per wall-clock second."""
        return self.cycles / self.seconds if self.seconds > 0 else 0.0


@contextlib.contextmanager
def wall_clock_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise ToolchainError if the body runs longer than `seconds` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):  # noqa: ARG001 - signal handler signature
        raise ToolchainError(f"{what} did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cosimulate(design: StreamDesign, profiles: np.ndarray, *, gap_seed: int | None = 1,
               drain: int | None = None, timeout_s: float = 300, max_reports: int = 10,
               verilog_from: StreamDesign | None = None) -> CosimResult:
    """Run `profiles` (with tvalid gaps unless `gap_seed` is None) through both copies in lockstep.

    `verilog_from` converts another design with the same ports instead (a negative control).
    """
    from myhdl import Cosimulation, Simulation, StopSimulation, instance

    vpi = myhdl_vpi_path()
    vvp = find_tool("vvp")
    drain = drain if drain is not None else 2 * (design.longest_latency + design.beats_per_profile) + 16
    clocks = profile_clocks(profiles, design.lanes, design.in_bits, gap_seed) + [IDLE] * drain
    model_sigs = design.make_signals()
    hdl_sigs = {name: sig for name, sig in design.make_signals().items() if name in OUTPUT_PORTS}
    inputs = {name: model_sigs[name] for name in INPUT_PORTS}
    stats = {"compared": 0, "mismatches": 0, "cycles": 0}
    report: list[str] = []

    def compare_outputs(edge: int) -> None:
        cycle = edge + RESET_CYCLES  # clocks counted from the first reset edge
        stats["cycles"] += 1
        for name in OUTPUT_PORTS:
            want, got = int(model_sigs[name].val), int(hdl_sigs[name].val)
            stats["compared"] += 1
            if want != got:
                stats["mismatches"] += 1
                if len(report) < max_reports:
                    report.append(f"cycle {cycle}: {name} MyHDL {want} Verilog {got}")

    @instance
    def stimulus():
        yield from drive_clocks(inputs["clk"], inputs["rst"], inputs["s_tvalid"], inputs["s_tuser"],
                                inputs["s_tlast"], inputs["s_tdata"], clocks, compare_outputs)
        raise StopSimulation()

    with tempfile.TemporaryDirectory(prefix="cosim-") as tmp:
        folder = Path(tmp)
        convert_block((verilog_from or design).instance(), "Verilog", folder, design.name,
                      cosim_testbench=True)
        image = folder / "cosim.vvp"
        icarus_compile([folder / f"{design.name}.v", folder / f"tb_{design.name}.v"],
                       f"tb_{design.name}", image)
        cosim = Cosimulation(f"{vvp} -m {vpi} {image}", **inputs, **hdl_sigs)
        model = design.instance(model_sigs)
        use_integer_processes(model)
        sim = Simulation(model, cosim, stimulus)
        start = time.perf_counter()
        try:
            with wall_clock_limit(timeout_s, "co-simulation"):
                sim.run(quiet=1)  # finalises (stops vvp) itself when the stimulus ends
        except BaseException:
            with contextlib.suppress(OSError):
                sim.quit()
            raise
        seconds = time.perf_counter() - start
    return CosimResult(stats["cycles"], stats["compared"], stats["mismatches"], seconds, tuple(report))

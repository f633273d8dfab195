"""Running a written HDL folder's testbenches in GHDL and Icarus and judging them.

Each simulator runs the testbench on both stimulus files (back to back and with tvalid gaps); a
run passes only with a PASS verdict that compared exactly as many values as the vectors hold.
"""
from __future__ import annotations

from pathlib import Path

from workbench.errors import ConfigError
from workbench.hdl.package import HdlPackage
from workbench.verify.simulators import TestbenchVerdict, require_pass, run_ghdl, run_icarus, run_verilator
from workbench.verify.vectors import EXPECTED_RESULTS, EXPECTED_SCORES, STIMULUS, STIMULUS_GAPS

SIMULATORS = ("ghdl", "icarus")
ALL_SIMULATORS = (*SIMULATORS, "verilator")


def run_testbench(package: HdlPackage, simulator: str, stimulus: str = STIMULUS, *,
                  timeout_s: float = 600, vectors: Path | None = None) -> TestbenchVerdict:
    """Run one testbench ('ghdl': VHDL, 'icarus' or 'verilator': Verilog) on one stimulus file;
    returns its verdict.

    `vectors` runs it on another vector folder written for the same design (e.g. fewer profiles).
    """
    top, drain = package.design["top"], package.design["drain_cycles"]
    vec = vectors if vectors is not None else package.vectors
    files = (vec / stimulus, vec / EXPECTED_SCORES, vec / EXPECTED_RESULTS)
    if simulator == "ghdl":
        return run_ghdl(package.vhdl_files, package.file("tb_vhdl"), top, *files, drain, timeout_s=timeout_s)
    if simulator == "icarus":
        return run_icarus([package.file("verilog")], package.file("tb_verilog"), top, *files, drain,
                          timeout_s=timeout_s)
    if simulator == "verilator":
        return run_verilator([package.file("verilog")], package.file("tb_verilog"), top, *files, drain,
                             timeout_s=timeout_s)
    raise ConfigError(f"unknown simulator {simulator!r}; use one of {ALL_SIMULATORS}")


def verify_package(package: HdlPackage, simulators: tuple[str, ...] = SIMULATORS,
                   stimuli: tuple[str, ...] = (STIMULUS, STIMULUS_GAPS), *,
                   timeout_s: float = 600) -> list[TestbenchVerdict]:
    """Run every simulator on every stimulus; raises HdlVerificationError on the first failure."""
    return [require_pass(run_testbench(package, simulator, stimulus, timeout_s=timeout_s),
                         package.design["values"])
            for simulator in simulators for stimulus in stimuli]

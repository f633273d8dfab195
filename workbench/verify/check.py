"""Running a written HDL folder's testbenches in GHDL, Icarus and Verilator and judging them.

A testbench is built once per simulator (`built_testbench`: GHDL analysis and elaboration, the
Icarus image, the Verilator executable) and then run on any number of vector files written for the
same design: both stimulus files of the folder (back to back and with tvalid gaps), or other
vector folders (fewer profiles, the test sets). A run passes only with a PASS verdict that compared
exactly as many values as the vectors hold.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import ConfigError
from workbench.hdl.package import HdlPackage
from workbench.verify.postsynth import POSTSYNTH, netlist_sources
from workbench.verify.simulators import (TestbenchVerdict, ghdl_elaborate, icarus_compile, require_pass,
                                         run_ghdl_elaborated, run_verilator_binary, run_vvp, verilator_build)
from workbench.verify.vectors import EXPECTED_RESULTS, EXPECTED_SCORES, STIMULUS, STIMULUS_GAPS

SIMULATORS = ("ghdl", "icarus")
ALL_SIMULATORS = (*SIMULATORS, "verilator")
NETLIST_SIMULATORS = (POSTSYNTH,)  # simulate a synthesised netlist (`netlist=`) instead of the package's Verilog
# Runs a built testbench on one stimulus file of a vector folder (None: the package's own vectors).
TestbenchRun = Callable[..., TestbenchVerdict]


@contextmanager
def built_testbench(package: HdlPackage, simulator: str, *, timeout_s: float = 600,
                    ghdl_backend: str | None = None, netlist: Path | None = None) -> Iterator[TestbenchRun]:
    """Build the package's testbench for `simulator` ('ghdl': VHDL, 'icarus' or 'verilator':
    Verilog; 'icarus-postsynth': the Yosys `netlist` of the package's design, see
    `workbench.verify.postsynth`) in a temporary folder; yields `run(stimulus=STIMULUS, vectors=None)`
    returning a verdict.

    `ghdl_backend` picks GHDL's back end (default: `simulators.ghdl_backend`'s quickest to start).
    """
    if simulator not in ALL_SIMULATORS + NETLIST_SIMULATORS:
        raise ConfigError(f"unknown simulator {simulator!r}; use one of {ALL_SIMULATORS + NETLIST_SIMULATORS}")
    if (netlist is None) == (simulator in NETLIST_SIMULATORS):
        raise ConfigError(f"simulator {simulator!r} {'needs' if netlist is None else 'takes no'} netlist")
    top, drain = package.design["top"], package.design["drain_cycles"]
    tb = f"tb_{top}"
    with tempfile.TemporaryDirectory(prefix=f"{simulator}-") as tmp:
        work = Path(tmp)
        if simulator == "ghdl":
            backend = ghdl_elaborate([*package.vhdl_files, package.file("tb_vhdl")], tb, work,
                                     timeout_s=timeout_s, backend=ghdl_backend)

            def simulate(*files: Path) -> TestbenchVerdict:
                return run_ghdl_elaborated(work, tb, backend, *files, drain, timeout_s=timeout_s)
        elif simulator in ("icarus", POSTSYNTH):
            image = work / "tb.vvp"
            sources = netlist_sources(netlist, work) if netlist is not None else [package.file("verilog")]
            icarus_compile([*sources, package.file("tb_verilog")], tb, image, timeout_s=timeout_s)

            def simulate(*files: Path) -> TestbenchVerdict:
                return run_vvp(image, *files, drain, timeout_s=timeout_s, simulator=simulator)
        else:
            binary = verilator_build([package.file("verilog"), package.file("tb_verilog")], tb, work,
                                     timeout_s=timeout_s)

            def simulate(*files: Path) -> TestbenchVerdict:
                return run_verilator_binary(binary, *files, drain, timeout_s=timeout_s)

        def run(stimulus: str = STIMULUS, vectors: Path | None = None) -> TestbenchVerdict:
            folder = vectors if vectors is not None else package.vectors
            return simulate(folder / stimulus, folder / EXPECTED_SCORES, folder / EXPECTED_RESULTS)

        yield run


def run_testbench(package: HdlPackage, simulator: str, stimulus: str = STIMULUS, *,
                  timeout_s: float = 600, vectors: Path | None = None,
                  ghdl_backend: str | None = None) -> TestbenchVerdict:
    """Build and run one testbench on one stimulus file; returns its verdict (seconds: the run, not
    the build).

    `vectors` runs it on another vector folder written for the same design (e.g. fewer profiles).
    """
    with built_testbench(package, simulator, timeout_s=timeout_s, ghdl_backend=ghdl_backend) as run:
        return run(stimulus, vectors)


def verify_package(package: HdlPackage, simulators: tuple[str, ...] = SIMULATORS,
                   stimuli: tuple[str, ...] = (STIMULUS, STIMULUS_GAPS), *,
                   timeout_s: float = 600) -> list[TestbenchVerdict]:
    """Run every simulator on every stimulus; raises HdlVerificationError on the first failure."""
    verdicts = []
    for simulator in simulators:
        with built_testbench(package, simulator, timeout_s=timeout_s) as run:
            verdicts += [require_pass(run(stimulus), package.design["values"]) for stimulus in stimuli]
    return verdicts

"""Post-synthesis simulation: the netlist Yosys mapped and counted, run against the golden vectors.

`workbench.hdl.synth` keeps the netlist whose cells it counts (gzipped beside the cached counts):
Xilinx 7-series primitives (LUT1-6, CARRY4, FDRE, MUXF7/8, I/O and clock buffers) wired as
`synth_xilinx` left them. Icarus simulates that netlist with Yosys's own behavioural models of those
primitives (`<Yosys data folder>/xilinx/cells_sim.v`) under the design's ordinary Verilog testbench,
on the same vector files as the RTL (`workbench.verify.check.built_testbench(..., "icarus-postsynth",
netlist=...)`). A pass proves that the resource and clock estimates count hardware that computes
the golden model's values; the netlist of a design with one weight changed fails the same vectors.
"""
from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

from workbench.errors import ToolchainError
from workbench.hdl.tools import find_tool

POSTSYNTH = "icarus-postsynth"
CELL_MODELS = Path("xilinx") / "cells_sim.v"


def yosys_datdir() -> Path:
    """Yosys's data folder: `yosys-config --datdir` when installed, else `<prefix>/share/yosys` of the
    `yosys` executable found on the tool path."""
    try:
        found = subprocess.run([find_tool("yosys-config"), "--datdir"], capture_output=True, text=True,
                               timeout=30, check=True).stdout.strip()
        return Path(found)
    except (ToolchainError, subprocess.SubprocessError):
        return Path(find_tool("yosys")).resolve().parent.parent / "share" / "yosys"


def cell_models() -> Path:
    """Yosys's simulation models of the Xilinx primitives, or a ToolchainError saying where they were sought."""
    models = yosys_datdir() / CELL_MODELS
    if not models.is_file():
        raise ToolchainError(f"Yosys's Xilinx cell models are missing: no {models} (they come with the "
                             "Debian package 'yosys')")
    return models


def netlist_sources(netlist: Path, folder: Path) -> list[Path]:
    """The Verilog files of a post-synthesis simulation: the cell models and the netlist (unpacked
    into `folder` when gzipped)."""
    source = netlist
    if netlist.suffix == ".gz":
        source = folder / netlist.name.removesuffix(".gz")
        source.write_bytes(gzip.decompress(netlist.read_bytes()))
    return [cell_models(), source]

"""Converting MyHDL blocks to VHDL-2008 (with MyHDL's support package) and Verilog.

MyHDL converts a block instance; each conversion elaborates a fresh instance, since an instance
must not be converted twice. The converted HDL is never trusted on its own: the testbenches in
`workbench.verify.testbench` and the co-simulation in `workbench.verify.cosim` check it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from myhdl._always_seq import _AlwaysSeq
from myhdl._block import _Block

from workbench.hw.interface import StreamDesign

VHDL_PACKAGE = "pck_myhdl_011.vhd"


@dataclass(frozen=True)
class HdlSources:
    """The converted top-level: VHDL files in compile order and the Verilog file."""

    vhdl: tuple[Path, ...]
    verilog: Path


def convert_block(instance: Any, hdl: str, folder: Path, name: str, *,
                  cosim_testbench: bool = False) -> Path:
    """Convert one elaborated block to `folder/<name>.vhd` or `.v`; returns that file.

    For Verilog, `cosim_testbench` also writes MyHDL's `tb_<name>.v` (the $from_myhdl/$to_myhdl
    wrapper used by co-simulation). No initial values: the design relies on its reset.
    """
    folder.mkdir(parents=True, exist_ok=True)
    _order_resets_by_name(instance)
    if hdl == "VHDL":
        instance.convert(hdl="VHDL", path=str(folder), name=name, initial_values=False)
        return folder / f"{name}.vhd"
    if hdl == "Verilog":
        instance.convert(hdl="Verilog", path=str(folder), name=name, initial_values=False,
                         testbench=cosim_testbench)
        return folder / f"{name}.v"
    raise ValueError(f"unknown HDL {hdl!r}; use 'VHDL' or 'Verilog'")


def _order_resets_by_name(instance: Any) -> None:
    """Put every clocked process's reset statements in the order of its register names.

    MyHDL gathers a process's registers from a set of names, so the reset statements come out in string-hash
    order, which changes with PYTHONHASHSEED: the same design converted twice gave different text (and a
    different netlist hash for the synthesis cache). Sorting makes the conversion reproducible.
    """
    if isinstance(instance, _AlwaysSeq):
        rank: dict[int, int] = {}
        for name in sorted(instance.outputs):
            value = instance.symdict[name]
            for register in value if isinstance(value, list) else [value]:
                rank.setdefault(id(register), len(rank))
        instance.sigregs.sort(key=lambda register: rank[id(register)])
        instance.varregs.sort(key=lambda entry: entry[0])
    elif isinstance(instance, _Block):
        for sub in instance.subs:
            _order_resets_by_name(sub)


def convert_design(design: StreamDesign, folder: Path) -> HdlSources:
    """Write `folder/vhdl/{pck_myhdl_011.vhd,<top>.vhd}` and `folder/verilog/<top>.v`."""
    vhdl = convert_block(design.instance(), "VHDL", folder / "vhdl", design.name)
    verilog = convert_block(design.instance(), "Verilog", folder / "verilog", design.name)
    return HdlSources(vhdl=(folder / "vhdl" / VHDL_PACKAGE, vhdl), verilog=verilog)

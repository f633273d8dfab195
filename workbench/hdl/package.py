"""The HDL folder handed to Vivado users: sources, testbenches, vectors, project script and README.

Layout (written into a temporary folder and renamed into place, so a failure leaves nothing):

    README.md                   what each file is, the ports, how to use it in Vivado
    design.json                 top name, lanes, widths, latency, file list (read by `verify`)
    network.json                the qnn-int/1 document the hardware was generated from (if any)
    vhdl/pck_myhdl_011.vhd      MyHDL's support package (compile first, VHDL-2008)
    vhdl/<top>.vhd              the top-level entity
    verilog/<top>.v             the same design in Verilog (Icarus, Yosys, Verilator)
    tb/tb_<top>.vhd, tb/tb_<top>.v   self-checking testbenches
    vectors/*.txt, vectors.json stimulus and expected values (see workbench.verify.vectors)
    vivado/create_project.tcl   Vivado project, synthesis, implementation and reports
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workbench.hdl.convert import convert_design
from workbench.hw.interface import PortInfo, StreamDesign
from workbench.files import atomic_folder
from workbench.verify.testbench import drain_cycles, write_testbenches
from workbench.verify.vectors import (EXPECTED_RESULTS, EXPECTED_SCORES, MANIFEST, STIMULUS, STIMULUS_GAPS,
                                   VectorSet, write_vectors)
from workbench.hdl.vivado import DEFAULT_CLOCK_MHZ, DEFAULT_PART, create_project_tcl

DESIGN_JSON = "design.json"
PORT_MEANING = {
    "clk": "clock; every register updates on its rising edge",
    "rst": "synchronous reset, active high",
    "s_tdata": "input pixels: lane j (pixel beat*P+j) at bits [j*B+B-1 : j*B], unsigned",
    "s_tvalid": "input beat valid (gaps allowed; no back-pressure)",
    "s_tuser": "first beat of a profile",
    "s_tlast": "last beat of a profile",
    "m_score_tdata": "scores, one two's complement lane of SW bits per pixel, packed like s_tdata",
    "m_score_tvalid": "score beat valid",
    "m_score_tuser": "first score beat of a profile",
    "m_score_tlast": "last score beat of a profile",
    "m_found": "a peak above the threshold was found (valid with m_result_tvalid)",
    "m_pos": "peak position in units of 2^-F pixel, unsigned (0 when not found)",
    "m_result_tvalid": "one pulse per profile: m_found and m_pos are valid",
}


@dataclass(frozen=True)
class HdlPackage:
    """Paths of a written HDL folder."""

    root: Path
    design: dict

    def file(self, key: str) -> Path:
        """A single file of the package by its design.json key: 'verilog', 'tb_vhdl', 'tb_verilog', 'vivado'."""
        return self.root / self.design["files"][key]

    @property
    def vhdl_files(self) -> list[Path]:
        """VHDL sources in compile order."""
        return [self.root / name for name in self.design["files"]["vhdl"]]

    @property
    def vectors(self) -> Path:
        """The vectors folder."""
        return self.root / "vectors"


def load_package(root: Path) -> HdlPackage:
    """Read a folder written by `write_package`."""
    return HdlPackage(Path(root), json.loads((Path(root) / DESIGN_JSON).read_text()))


def write_package(design: StreamDesign, out: Path, vectors: VectorSet, *, document: dict | None = None,
                  part: str = DEFAULT_PART, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> HdlPackage:
    """Convert `design` and write the whole folder at `out` (replacing it)."""
    with atomic_folder(Path(out)) as tmp:
        sources = convert_design(design, tmp)
        tb_vhdl, tb_verilog = write_testbenches(design, tmp / "tb")
        manifest = write_vectors(tmp / "vectors", design, vectors)

        def rel(path: Path) -> str:
            return str(path.relative_to(tmp))

        vector_files = [f"vectors/{name}" for name in (STIMULUS, STIMULUS_GAPS, EXPECTED_SCORES, EXPECTED_RESULTS)]
        tcl = create_project_tcl(design.name, [rel(p) for p in sources.vhdl], rel(tb_vhdl), vector_files,
                                 part=part, clock_mhz=clock_mhz)
        (tmp / "vivado").mkdir()
        (tmp / "vivado" / "create_project.tcl").write_text(tcl)
        if document is not None:
            (tmp / "network.json").write_text(json.dumps(document, indent=1) + "\n")
        info = {
            "top": design.name, "lanes": design.lanes, "profile_length": design.profile_length,
            "in_bits": design.in_bits, "score_bits": design.score_bits, "pos_bits": design.pos_bits,
            "frac_bits": design.frac_bits, "latency": design.longest_latency, "drain_cycles": drain_cycles(design),
            "values": manifest["values"], "part": part, "clock_mhz": clock_mhz,
            "ports": [port.__dict__ for port in design.ports()],
            "files": {"vhdl": [rel(p) for p in sources.vhdl], "verilog": rel(sources.verilog),
                      "tb_vhdl": rel(tb_vhdl), "tb_verilog": rel(tb_verilog),
                      "vivado": "vivado/create_project.tcl", "vectors": vector_files + [f"vectors/{MANIFEST}"]},
        }
        (tmp / DESIGN_JSON).write_text(json.dumps(info, indent=1) + "\n")
        (tmp / "README.md").write_text(readme(design, info, manifest))
    return load_package(Path(out))


def _port_row(port: PortInfo) -> str:
    kind = "std_logic" if port.scalar else f"{'signed' if port.signed else 'unsigned'}({port.width - 1} downto 0)"
    return f"| `{port.name}` | {port.direction} | {port.width} | `{kind}` | {PORT_MEANING.get(port.name, '')} |"


def readme(design: StreamDesign, info: dict, manifest: dict) -> str:
    """The folder's README.md."""
    top, files = design.name, info["files"]
    ports = "\n".join(_port_row(port) for port in design.ports())
    return f"""# HDL for `{top}`

Generated by `workbench hdl` from a qnn-int/1 network: a streaming peak detector with
P = {design.lanes} lane(s) (pixels per clock) for profiles of L = {design.profile_length} pixels,
B = {design.in_bits}-bit pixels, SW = {design.score_bits}-bit scores and positions in units of
2^-{design.frac_bits} pixel. Every output (scores, then the profile's result) leaves at most
{design.longest_latency} clock(s) after the input beat that causes it.
With `s_tvalid` held high it accepts one beat per clock, profiles back to back.

## Files

| file | what it is |
|---|---|
| `{files['vhdl'][0]}` | MyHDL's support package; compile it first, as VHDL-2008 |
| `{files['vhdl'][1]}` | the top-level entity `{top}` (VHDL-2008, synthesizable) |
| `{files['verilog']}` | the same design in Verilog (used for Icarus, Verilator and Yosys) |
| `{files['tb_vhdl']}` | self-checking VHDL-2008 testbench `tb_{top}` (std.textio) |
| `{files['tb_verilog']}` | the same testbench in Verilog |
| `vectors/{STIMULUS}` | input beats, one clock per line: `tvalid tuser tlast tdata(hex)` |
| `vectors/{STIMULUS_GAPS}` | the same beats with idle clocks (tvalid = 0) between some of them |
| `vectors/{EXPECTED_SCORES}` | expected `m_score_tdata` of each score beat (hex), from the golden model |
| `vectors/{EXPECTED_RESULTS}` | expected `m_found m_pos(hex)` of each profile |
| `vectors/{MANIFEST}` | counts and widths: {manifest['profiles']} profiles, {manifest['values']} values to compare |
| `vivado/create_project.tcl` | creates the Vivado project, runs synthesis and implementation, writes reports |
| `design.json` | widths, latency, ports and this file list, machine-readable |
| `network.json` | the qnn-int/1 document the hardware computes (when given) |

## Ports

| port | dir | bits | VHDL type | meaning |
|---|---|---|---|---|
{ports}

No back-pressure: the consumer must accept every output. The reset is synchronous: hold `rst`
high for a few clocks after configuration.

## Signal names

Internal names (what timing reports show) read layer, block, process, signal, and are the same on
every run: `l<i>_conv` and `l<i>_req` are the document's layer `i` (a convolution or dense layer,
a requantizer); inside them `win` is the line window, `sum` the constant products, `clip` the
requantizer's output stage; the head is `head` (`win`, `amax` lane arg-max, `run` running arg-max,
`ref` refinement, `div` divider, `res` result); `p` is a block's process. So `l2_conv_sum_p_st1`
is the first register stage of layer 2's products, `head_div_p_d1_q` the quotient after the divider's second stage.

    vivado -mode batch -source vivado/create_project.tcl -tclargs {info['part']} {info['clock_mhz']:g}

creates `vivado/project/`, adds the VHDL as VHDL-2008 (`pck_myhdl_011.vhd` first), a clock
constraint on `clk`, runs synthesis and implementation and writes `vivado/reports/`
(`utilization.rpt`, `timing_summary.rpt`, `power.rpt`). Both arguments are optional (default part
{info['part']}, a mid-range Kintex-7, and {info['clock_mhz']:g} MHz). To add the design to an
existing project instead, add both files in `vhdl/` and set their file type to VHDL 2008.

The testbench and vectors are added as simulation sources: in the project, `launch_simulation`
then `run all` prints `VERDICT PASS compared={manifest['values']} mismatches=0` when the design
reproduces the golden model. Select `{STIMULUS_GAPS}` with the generic `STIMULUS_FILE`.

## Running the testbenches here

    cd vectors
    ghdl -a --std=08 ../vhdl/pck_myhdl_011.vhd ../vhdl/{top}.vhd ../tb/tb_{top}.vhd
    ghdl -e --std=08 tb_{top} && ghdl -r --std=08 tb_{top}          # -gSTIMULUS_FILE={STIMULUS_GAPS}
    iverilog -g2005 -gno-xtypes -s tb_{top} -o tb.vvp ../verilog/{top}.v ../tb/tb_{top}.v
    vvp -n tb.vvp                                                   # +stimulus={STIMULUS_GAPS}

Judge a run by its single `VERDICT` line: `compared` must equal {manifest['values']} and
`mismatches` must be 0 (`workbench hdl --verify` does exactly this).
"""

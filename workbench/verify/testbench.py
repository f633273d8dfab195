"""Self-checking VHDL-2008 and Verilog testbenches for the streaming top-level, rendered from templates.

The text lives in `templates/tb.vhd.tmpl` and `templates/tb.v.tmpl` beside this module (shipped as
package data); this module only computes the `${name}` placeholders from the design and fills them
with `string.Template`. A bare `$` in the templates is Verilog text, never a placeholder.

Both testbenches do the same thing: hold reset for 4 clocks, drive one stimulus line per clock
(`tvalid` as the file says, so the gap variant has idle clocks), then run `DRAIN_CYCLES` more
clocks. The design sees reset on rising edges 1-4 and stimulus line k on rising edge 4 + k in
both, as in every MyHDL simulation (`workbench.verify.beats`, `RESET_CYCLES`). On every rising
edge after reset they compare each valid score beat lane by lane with the next line of the
expected scores, and each valid result's `found` and `pos` with the next expected
result; unexpected outputs and expectations left unread count as mismatches. At the end they print
exactly one line

    VERDICT PASS compared=<values compared> mismatches=0       (or VERDICT FAIL ...)

and stop (`std.env.finish` / `$finish`). Up to MAX_REPORTS mismatches are printed before it as
`MISMATCH ...` lines. The vector file names are generics (VHDL) or plusargs (Verilog:
`+stimulus=FILE +scores=FILE +results=FILE`), defaulting to the names in `workbench.verify.vectors`.
Hand-written testbenches are used instead of converted MyHDL testbenches: they read files of any
size, run unchanged in Vivado's simulator and need no MyHDL at simulation time.

Two rules keep the Verilog testbench correct in every simulator, Verilator included (issue 14):

- A system function with side effects (`$fscanf`, `$fopen`, `$value$plusargs`) is only ever the
  right-hand side of an assignment statement, never part of an `if`/`while` condition. IEEE
  1800-2017 12.4 evaluates a condition once, but Verilator (5.006) splits a clocked `always` block
  into one block per group of written variables and clones every enclosing `if` condition into each
  piece, so `if ($fscanf(fe, ...) != 1)` read 3 lines of the expected scores per beat at 1 lane
  (4 result lines per result) and reported ~45,000 mismatches on vectors Icarus and GHDL pass.
- The design's inputs are written with blocking assignments just after the falling edge, half a
  clock before the rising edge that samples them. Verilator 5.006 executes `<=` in an `initial`
  block as `=` (its INITIALDLY warning), and resumes the `@(posedge clk)` wait before the design's
  clocked blocks, so nonblocking drives right after a rising edge were seen by that same edge. The
  falling-edge drive is race-free under any scheduling and keeps the edges the design sees.
"""
from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

from workbench.hw.interface import PortInfo, StreamDesign
from workbench.verify.beats import RESET_CYCLES
from workbench.verify.vectors import EXPECTED_RESULTS, EXPECTED_SCORES, STIMULUS, hex_digits

MAX_REPORTS = 10


def drain_cycles(design: StreamDesign) -> int:
    """Clocks run after the last stimulus line: generous, so every result can come out."""
    return 4 * (design.longest_latency + design.beats_per_profile) + 64


def _vhdl_type(port: PortInfo) -> str:
    if port.scalar:
        return "std_logic"
    return f"{'signed' if port.signed else 'unsigned'}({port.width - 1} downto 0)"


def _vhdl_bit(port: PortInfo) -> str:
    """The port as one std_logic (a 1-bit vector port is indexed)."""
    return port.name if port.scalar else f"{port.name}(0)"


class HdlTemplate(string.Template):
    """`${name}` placeholders only: a bare `$` (Verilog's `$fscanf`, `$display`) is plain text."""

    pattern = r"\$(?:(?P<escaped>(?!))|(?P<named>(?!))|\{(?P<braced>[a-z_][a-z0-9_]*)\}|(?P<invalid>(?!)))"


def render_template(name: str, **values: object) -> str:
    """The template file `templates/<name>` with every placeholder filled (KeyError names a missing one)."""
    text = resources.files(__package__).joinpath("templates", name).read_text()
    return HdlTemplate(text).substitute({key: str(value) for key, value in values.items()})


def _common_values(design: StreamDesign) -> dict[str, object]:
    """The placeholders both testbenches share: names, sizes, vector files and cycle counts."""
    lanes, sw = design.lanes, design.score_bits
    return {"top": design.name, "stimulus_file": STIMULUS, "scores_file": EXPECTED_SCORES,
            "results_file": EXPECTED_RESULTS, "drain_cycles": drain_cycles(design), "max_reports": MAX_REPORTS,
            "reset_cycles": RESET_CYCLES, "lanes": lanes, "in_bits": design.in_bits, "score_bits": sw,
            "pos_bits": design.pos_bits, "data_msb": 4 * hex_digits(lanes * design.in_bits) - 1,
            "score_msb": 4 * hex_digits(lanes * sw) - 1, "pos_msb": 4 * hex_digits(design.pos_bits) - 1}


def vhdl_testbench(design: StreamDesign) -> str:
    """The VHDL-2008 testbench `tb_<top>` (uses std.textio, hread and std.env.finish)."""
    ports = {p.name: p for p in design.ports()}
    decls = []
    for port in ports.values():
        init = ""
        if port.direction == "in":
            init = " := '0'" if port.scalar else " := (others => '0')"
            if port.name == "rst":
                init = " := '1'" if port.scalar else " := (others => '1')"
        decls.append(f"  signal {port.name} : {_vhdl_type(port)}{init};")
    bits = {f"{name}_bit": _vhdl_bit(ports[name]) for name in
            ("rst", "s_tvalid", "s_tuser", "s_tlast", "m_score_tvalid", "m_result_tvalid", "m_found")}
    return render_template("tb.vhd.tmpl", **_common_values(design), **bits,
                           signal_declarations="\n".join(decls),
                           port_map=",\n      ".join(f"{name} => {name}" for name in ports),
                           data_type="signed" if ports["s_tdata"].signed else "unsigned")


def _verilog_decl(port: PortInfo) -> str:
    kind = "reg" if port.direction == "in" else "wire"
    sign = " signed" if port.signed else ""
    rng = "" if port.width == 1 and port.scalar else f" [{port.width - 1}:0]"
    init = ""
    if port.direction == "in":
        init = " = 1'b1" if port.name == "rst" else " = 0"
    return f"  {kind}{sign}{rng} {port.name}{init};"


def verilog_testbench(design: StreamDesign) -> str:
    """The Verilog-2001 testbench `tb_<top>` (uses $fscanf, $value$plusargs and $finish)."""
    ports = design.ports()
    return render_template("tb.v.tmpl", **_common_values(design),
                           declarations="\n".join(_verilog_decl(port) for port in ports),
                           connections=",\n    ".join(f".{p.name}({p.name})" for p in ports))


def write_testbenches(design: StreamDesign, folder: Path) -> tuple[Path, Path]:
    """Write `folder/tb_<top>.vhd` and `folder/tb_<top>.v`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    vhd = folder / f"tb_{design.name}.vhd"
    ver = folder / f"tb_{design.name}.v"
    vhd.write_text(vhdl_testbench(design))
    ver.write_text(verilog_testbench(design))
    return vhd, ver

"""Running the HDL simulators (GHDL, Icarus, Verilator) and Verilator lint, each under a timeout,
and judging the verdicts.

GHDL's back ends (`GHDL_BACKENDS`): Debian's `ghdl-llvm` or `ghdl-gcc` compile the design to machine
code and simulate about 2.3x faster than `ghdl-mcode`, but their elaboration takes minutes on a
network-sized design. Unless a caller names one, GHDL therefore starts with the quickest back end to
start (`QUICK_START_ORDER`: mcode, then the plain `ghdl`, then the native ones); long runs (the full
hdl stage, the simulator benchmark) ask for `llvm` by name.

A testbench run is judged only by its single `VERDICT PASS|FAIL compared=N mismatches=M` line
(GHDL's exit code is not trusted on its own), and `require_pass` also insists that the number of
compared values equals the number written to the vector files, so a testbench that compares
nothing cannot pass.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError, WorkbenchError
from workbench.hdl.tools import find_tool, run_tool, search_path, tail

VERDICT = re.compile(r"^VERDICT (PASS|FAIL) compared=(\d+) mismatches=(\d+)", re.MULTILINE)
GHDL_STD = "--std=08"
# GHDL back end -> executable, fastest first: Debian installs one executable per back end beside
# the `ghdl` wrapper; "path" is whatever `ghdl` is found (e.g. an install built from source).
GHDL_BACKENDS = {"llvm": "ghdl-llvm", "gcc": "ghdl-gcc", "mcode": "ghdl-mcode", "path": "ghdl"}
QUICK_START_ORDER = ("mcode", "path", "llvm", "gcc")
# Verilator warnings waived on MyHDL's Verilog, and why:
#  WIDTH: MyHDL writes integer constants as 32-bit literals and assigns wider/narrower expressions
#         to sized regs; the simulators prove the values right, the truncation is intended.
#  UNUSEDSIGNAL: lane slices and flags that a block reads only in part (e.g. the low bits of a
#         packed word) are reported although they are harmless.
#  UNOPTFLAT: MyHDL declares a chain of combinational signals as one array, which Verilator sees
#         as a loop through the array; it only slows Verilator's own simulation.
VERILATOR_WAIVERS = ("WIDTH", "UNUSEDSIGNAL", "UNOPTFLAT")


class HdlVerificationError(WorkbenchError):
    """A testbench reported mismatches, compared the wrong number of values or gave no verdict."""


@dataclass(frozen=True)
class TestbenchVerdict:
    """The outcome of one testbench run."""

    simulator: str
    passed: bool
    compared: int
    mismatches: int
    seconds: float
    clocks: int
    output: str

    @property
    def clocks_per_second(self) -> float:
        """Simulated clock cycles per wall-clock second (including start-up)."""
        return self.clocks / self.seconds if self.seconds > 0 else 0.0


def parse_verdict(simulator: str, output: str, seconds: float, clocks: int) -> TestbenchVerdict:
    """Read the verdict line from a testbench's output; no verdict line raises HdlVerificationError."""
    found = VERDICT.findall(output)
    if len(found) != 1:
        raise HdlVerificationError(f"{simulator}: expected exactly one VERDICT line, found {len(found)}:\n"
                                   f"{tail(output)}")
    word, compared, mismatches = found[0]
    return TestbenchVerdict(simulator, word == "PASS" and int(mismatches) == 0, int(compared), int(mismatches),
                   seconds, clocks, output)


def require_pass(verdict: TestbenchVerdict, expected_values: int) -> TestbenchVerdict:
    """Raise HdlVerificationError unless the run passed and compared exactly `expected_values` values."""
    if not verdict.passed:
        raise HdlVerificationError(f"{verdict.simulator}: {verdict.mismatches} mismatches "
                                   f"({verdict.compared} values compared):\n{tail(verdict.output, 15)}")
    if verdict.compared != expected_values:
        raise HdlVerificationError(f"{verdict.simulator}: compared {verdict.compared} values, "
                                   f"but {expected_values} were written")
    return verdict


def _clocks(stimulus: Path, drain: int) -> int:
    """Clocks a testbench runs on `stimulus`: its lines, the drain and the reset."""
    with stimulus.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return lines + drain + 4


def _plusargs(stimulus: Path, scores: Path, results: Path) -> list[str]:
    return [f"+stimulus={stimulus.resolve()}", f"+scores={scores.resolve()}", f"+results={results.resolve()}"]


def installed_ghdl_backends() -> list[str]:
    """The GHDL back ends found on the tool search path, fastest first."""
    return [name for name, executable in GHDL_BACKENDS.items() if shutil.which(executable, path=search_path())]


def ghdl_backend(backend: str | None = None) -> str:
    """The GHDL back end to use: `backend` when given (ToolchainError if not installed), else the
    quickest to start that is installed (ToolchainError naming the Debian package when there is none)."""
    if backend is None:
        installed = installed_ghdl_backends()
        backend = next((name for name in QUICK_START_ORDER if name in installed), "path")
    if backend not in GHDL_BACKENDS:
        raise ConfigError(f"unknown GHDL back end {backend!r}; use one of {tuple(GHDL_BACKENDS)}")
    find_tool(GHDL_BACKENDS[backend])
    return backend


def ghdl_elaborate(vhdl_files: list[Path], top: str, workdir: Path, *, timeout_s: float = 120,
                   backend: str | None = None) -> str:
    """Analyse the files (in order) and elaborate `top` with `ghdl --std=08` into `workdir`
    (llvm/gcc: an executable there); returns the back end used."""
    backend = ghdl_backend(backend)
    ghdl = GHDL_BACKENDS[backend]
    workdir.mkdir(parents=True, exist_ok=True)
    common = [GHDL_STD, f"--workdir={workdir}"]
    run_tool([ghdl, "-a", *common, *map(str, vhdl_files)], cwd=workdir, timeout_s=timeout_s)
    run_tool([ghdl, "-e", *common, top], cwd=workdir, timeout_s=timeout_s)
    return backend


def run_ghdl_elaborated(workdir: Path, tb: str, backend: str, stimulus: Path, scores: Path, results: Path,
                        drain: int, *, timeout_s: float = 300) -> TestbenchVerdict:
    """Run the VHDL testbench `tb` elaborated by `ghdl_elaborate` in `workdir` on one set of vector
    files; the verdict's simulator is the back end's executable (e.g. `ghdl-llvm`)."""
    result = run_tool([GHDL_BACKENDS[backend], "-r", GHDL_STD, f"--workdir={workdir}", tb,
                       "--ieee-asserts=disable-at-0",
                       f"-gSTIMULUS_FILE={stimulus.resolve()}", f"-gSCORES_FILE={scores.resolve()}",
                       f"-gRESULTS_FILE={results.resolve()}"],
                      cwd=workdir, timeout_s=timeout_s, check=False)
    return parse_verdict(GHDL_BACKENDS[backend], result.output, result.seconds, _clocks(stimulus, drain))


def icarus_compile(verilog_files: list[Path], top: str, output: Path, *, timeout_s: float = 120) -> None:
    """Compile Verilog files into the vvp image `output` as Verilog-2005 without Icarus's extra
    keywords (`-g2005 -gno-xtypes`): MyHDL names blocks after their functions, e.g. `logic`."""
    run_tool(["iverilog", "-g2005", "-gno-xtypes", "-s", top, "-o", str(output), *map(str, verilog_files)],
             cwd=output.parent, timeout_s=timeout_s)


def run_vvp(image: Path, stimulus: Path, scores: Path, results: Path, drain: int, *,
            timeout_s: float = 300, simulator: str = "icarus") -> TestbenchVerdict:
    """Run a testbench image from `icarus_compile` on one set of vector files (plusargs); the verdict
    names `simulator`."""
    result = run_tool(["vvp", "-n", str(image), *_plusargs(stimulus, scores, results)],
                      cwd=image.parent, timeout_s=timeout_s, check=False)
    return parse_verdict(simulator, result.output, result.seconds, _clocks(stimulus, drain))


def run_icarus(verilog_files: list[Path], testbench: Path, top: str, stimulus: Path, scores: Path,
               results: Path, drain: int, *, timeout_s: float = 300) -> TestbenchVerdict:
    """Compile and run the Verilog testbench `tb_<top>` in Icarus; returns its verdict (the seconds
    are the run's, without the compilation)."""
    with tempfile.TemporaryDirectory(prefix="icarus-") as tmp:
        image = Path(tmp) / "tb.vvp"
        icarus_compile([*verilog_files, testbench], f"tb_{top}", image, timeout_s=timeout_s)
        return run_vvp(image, stimulus, scores, results, drain, timeout_s=timeout_s)


def verilator_lint(verilog: Path, top: str, *, timeout_s: float = 120) -> str:
    """`verilator --lint-only -Wall` with the documented waivers; raises ToolchainError on warnings."""
    waivers = [f"-Wno-{name}" for name in VERILATOR_WAIVERS]
    result = run_tool(["verilator", "--lint-only", "-Wall", "--default-language", "1364-2005", *waivers,
                       "--top-module", top, str(verilog)], cwd=verilog.parent, timeout_s=timeout_s)
    return result.output


def verilator_build(verilog_files: list[Path], top: str, workdir: Path, *, timeout_s: float = 300) -> Path:
    """Build the Verilog testbench `top` with Verilator 5 into an executable under `workdir`; returns it.

    `verilator --binary` is `--cc --exe --build --main --timing`: Verilator writes the C++ `main`
    and runs the testbench's delays and event controls as coroutines. Verilog-2005 like Icarus,
    with the lint waivers (simulation reports fewer warnings than `-Wall`, none fatal on the
    generated testbenches).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    waivers = [f"-Wno-{name}" for name in VERILATOR_WAIVERS]
    run_tool(["verilator", "--binary", "-j", str(os.cpu_count() or 1), "--default-language", "1364-2005",
              *waivers, "--top-module", top, "-Mdir", str(workdir / "obj_dir"), "-o", "tbsim",
              *map(str, verilog_files)], cwd=workdir, timeout_s=timeout_s)
    return workdir / "obj_dir" / "tbsim"


def run_verilator_binary(binary: Path, stimulus: Path, scores: Path, results: Path, drain: int, *,
                         timeout_s: float = 300) -> TestbenchVerdict:
    """Run a testbench executable from `verilator_build` on one set of vector files (plusargs)."""
    result = run_tool([str(binary), *_plusargs(stimulus, scores, results)], cwd=binary.parent,
                      timeout_s=timeout_s, check=False)
    return parse_verdict("verilator", result.output, result.seconds, _clocks(stimulus, drain))

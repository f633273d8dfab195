"""Finding and running the external HDL tools (GHDL, Icarus, Verilator, Yosys) under a timeout.

Every tool is looked up on `PATH` (or on the search path given by the `WORKBENCH_TOOL_PATH`
environment variable, which tests use to simulate a machine without the tools). A missing tool
raises `ToolchainError` naming the Debian package that provides it; a tool that runs too long is
killed and raises `ToolchainError` as well.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ToolchainError

# Executable -> Debian package that provides it.
DEBIAN_PACKAGES: dict[str, str] = {
    "ghdl": "ghdl",
    "ghdl-llvm": "ghdl-llvm",
    "ghdl-gcc": "ghdl-gcc",
    "ghdl-mcode": "ghdl-mcode",
    "iverilog": "iverilog",
    "vvp": "iverilog",
    "iverilog-vpi": "iverilog",
    "verilator": "verilator",
    "yosys": "yosys",
}


@dataclass(frozen=True)
class ToolResult:
    """What a finished tool run printed, and how it ended."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr


def search_path() -> str | None:
    """The search path used for tools: `WORKBENCH_TOOL_PATH` when set, else the process PATH."""
    return os.environ.get("WORKBENCH_TOOL_PATH", os.environ.get("PATH"))


def find_tool(name: str) -> str:
    """Absolute path of an executable, or a ToolchainError saying which Debian package to install."""
    found = shutil.which(name, path=search_path())
    if found is None:
        package = DEBIAN_PACKAGES.get(name, name)
        raise ToolchainError(
            f"'{name}' not found on PATH; install the Debian package '{package}' "
            f"(apt-get install -y {package}) or run `make setup`")
    return found


def run_tool(args: list[str], *, cwd: Path, timeout_s: float, check: bool = True) -> ToolResult:
    """Run `args` (args[0] a tool name) in `cwd` under a timeout.

    With `check`, a non-zero exit raises ToolchainError quoting the tail of the tool's output.
    """
    exe = find_tool(args[0])
    start = time.perf_counter()
    try:
        proc = subprocess.run([exe, *args[1:]], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout_s, errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"{args[0]} did not finish within {timeout_s:g} s "
                             f"(command: {' '.join(args)})") from exc
    result = ToolResult(tuple(args), proc.returncode, proc.stdout, proc.stderr,
                        time.perf_counter() - start)
    if check and proc.returncode != 0:
        raise ToolchainError(f"{args[0]} failed with exit code {proc.returncode} "
                             f"(command: {' '.join(args)}):\n{tail(result.output)}")
    return result


def tail(text: str, lines: int = 30) -> str:
    """The last `lines` lines of a tool's output, for error messages."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def myhdl_vpi_path() -> Path:
    """MyHDL's Icarus VPI module built by scripts/setup.sh, or a ToolchainError saying how to build it."""
    candidates = [Path(sys.prefix) / "lib" / "myhdl.vpi"]
    if "WORKBENCH_MYHDL_VPI" in os.environ:
        candidates.insert(0, Path(os.environ["WORKBENCH_MYHDL_VPI"]))
    for path in candidates:
        if path.is_file():
            return path
    raise ToolchainError(
        f"MyHDL's Icarus VPI module is missing (looked for {', '.join(map(str, candidates))}); "
        "run `make setup` (scripts/setup.sh builds it with iverilog-vpi from the source shipped in "
        "the myhdl wheel, share/myhdl/cosimulation/icarus), which needs the Debian package 'iverilog'")

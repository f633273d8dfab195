"""The `workbench` console script: one sub-command per module in `workbench.commands`.

Each command module defines `register(subparsers)`, which adds its parser and sets `func`; heavy
imports (TensorFlow, MyHDL) happen inside the command's function so `--help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from workbench.errors import WorkbenchError

COMMAND_MODULES = ("generate", "evaluate", "detect", "train", "export", "simulate", "hdl", "synth", "sweep")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="qpeak-workbench: peak signals, classical detectors, quantization-aware networks, "
                    "the qnn-int/1 golden model, MyHDL hardware and VHDL/Verilog.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"workbench.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"workbench.commands.{name}":
                raise
            continue  # command not built yet
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn bad-input errors into a one-line message and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Options shared by several sub-commands."""
from __future__ import annotations

import argparse

from workbench.hw.arithmetic import ARITHMETICS, DEFAULT_ARITHMETIC


def add_arithmetic_option(parser: argparse.ArgumentParser) -> None:
    """`--arithmetic {trees,shared}`: how the hardware builds its constant products."""
    parser.add_argument("--arithmetic", choices=ARITHMETICS, default=DEFAULT_ARITHMETIC,
                        help="constant products as per-output adder 'trees' or a graph of 'shared' subexpressions "
                             f"(default {DEFAULT_ARITHMETIC})")

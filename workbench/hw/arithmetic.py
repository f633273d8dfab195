"""How the constant products are built: per-output adder trees or a graph with shared subexpressions.

- `trees`: one canonical-signed-digit adder tree per output, reduced in `pipeline_stages` levels of equal
  fan-in (`adder_tree`);
- `shared`: the outputs' common subexpressions computed once, registers placed by estimated delay
  (`shared_sums`).

Both take the same sums and give the same outputs with the same latency (`pipeline_stages` cycles).
"""
from __future__ import annotations

from typing import Any, Callable

from workbench.errors import ConfigError
from workbench.hw.adder_tree import adder_tree
from workbench.hw.shared_sums import shared_sums

ARITHMETICS = ("trees", "shared")
DEFAULT_ARITHMETIC = "trees"


def check_arithmetic(arithmetic: str) -> str:
    """`arithmetic` when it names one of ARITHMETICS, else a ConfigError."""
    if arithmetic not in ARITHMETICS:
        raise ConfigError(f"arithmetic is {arithmetic!r}; allowed: {', '.join(ARITHMETICS)}")
    return arithmetic


def sums_block(arithmetic: str) -> Callable[..., Any]:
    """The block function computing sums with the chosen arithmetic, called as
    `sums_block(a)(clk, rst, inp, out, sums, pipeline_stages)` in a block's body (MyHDL wants sub-blocks
    instantiated there, so this returns the block rather than wrapping it in another)."""
    return shared_sums if check_arithmetic(arithmetic) == "shared" else adder_tree

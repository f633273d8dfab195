"""The hardware table for one network: Yosys at some lane counts, scaled or analytic rows at others.

Used by `workbench synth` and the run_all `hdl` stage. Each Yosys run converts the top-level to
Verilog in a temporary folder and synthesises it (cached by netlist hash, see workbench.hdl.synth).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from workbench.qnn.contract import Network
from workbench.hdl.convert import convert_block
from workbench.hw.interface import StreamDesign
from workbench.hdl.synth import DEFAULT_CACHE, SynthResult, synthesize
from workbench.hdl.table import analytic_row, scaled_row, yosys_row
from workbench.hdl.vivado import DEFAULT_PART
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC


def synthesize_design(design: StreamDesign, *, timeout_s: float = 900,
                      cache_dir: Path | None = DEFAULT_CACHE) -> SynthResult:
    """Convert `design` to Verilog and run the Yosys flow on it."""
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        verilog = convert_block(design.instance(), "Verilog", Path(tmp), design.name)
        return synthesize(verilog, design.name, timeout_s=timeout_s, cache_dir=cache_dir)


def hardware_rows(model: str, network: Network, make_design: Callable[[int], StreamDesign], *,
                  yosys_lanes: tuple[int, ...], scaled_lanes: tuple[int, ...] = (),
                  analytic_lanes: tuple[int, ...] = (), part: str = DEFAULT_PART,
                  timeout_s: float = 900, cache_dir: Path | None = DEFAULT_CACHE,
                  pipeline_stages: int | None = None, arithmetic: str = DEFAULT_ARITHMETIC) -> list[dict]:
    """Rows for one network: `yosys` at `yosys_lanes`, `yosys-scaled` (from those) at
    `scaled_lanes`, `analytic` at `analytic_lanes`. `make_design(P)` builds the top-level;
    `pipeline_stages` and `arithmetic` (the ones it uses) are recorded in every row."""
    synthesized = {lanes: synthesize_design(make_design(lanes), timeout_s=timeout_s, cache_dir=cache_dir)
                   for lanes in yosys_lanes}
    return rows_from_synthesis(model, network, synthesized, scaled_lanes=scaled_lanes,
                               analytic_lanes=analytic_lanes, part=part, pipeline_stages=pipeline_stages,
                               arithmetic=arithmetic)


def rows_from_synthesis(model: str, network: Network, synthesized: dict[int, SynthResult], *,
                        scaled_lanes: tuple[int, ...] = (), analytic_lanes: tuple[int, ...] = (),
                        part: str = DEFAULT_PART, pipeline_stages: int | None = None,
                        arithmetic: str = DEFAULT_ARITHMETIC) -> list[dict]:
    """The rows of `hardware_rows` from Yosys results already made (lanes -> result)."""
    rows = [yosys_row(model, network, lanes, result, part) for lanes, result in sorted(synthesized.items())]
    measured = list(rows)
    if measured:
        rows += [scaled_row(model, network, lanes, measured, part) for lanes in scaled_lanes]
    f_est = max(measured, key=lambda r: r["lanes"])["f_est_mhz"] if measured else None
    rows += [analytic_row(model, network, lanes, f_est, part) for lanes in analytic_lanes]
    for row in rows:
        row["pipeline_stages"] = pipeline_stages
        row["arithmetic"] = arithmetic
    return sorted(rows, key=lambda r: (r["lanes"], r["method"]))

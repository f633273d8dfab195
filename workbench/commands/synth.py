"""`workbench synth`: Yosys resource counts, pre-route clock and throughput estimates for a network.

    workbench synth --model m.json --lanes 1,4 --scaled 16,32 --csv hardware.csv
"""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands.options import add_arithmetic_option
from workbench.hw.top import DEFAULT_PIPELINE_STAGES


def _lanes(text: str) -> tuple[int, ...]:
    return tuple(int(item) for item in text.split(",") if item.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `synth` sub-command."""
    parser = subparsers.add_parser(
        "synth", help="Yosys LUT/FF/CARRY4/DSP/BRAM counts and an estimated (pre-route) clock and throughput",
        description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 JSON document")
    parser.add_argument("--lanes", type=_lanes, default=(1,), help="lane counts to synthesise, e.g. 1,4")
    parser.add_argument("--scaled", type=_lanes, default=(), help="lane counts to extrapolate from the Yosys runs")
    parser.add_argument("--analytic", type=_lanes, default=(), help="lane counts from the analytic model only")
    parser.add_argument("--pipeline-stages", type=int, default=DEFAULT_PIPELINE_STAGES,
                        help=f"register stages per adder tree (default {DEFAULT_PIPELINE_STAGES})")
    add_arithmetic_option(parser)
    parser.add_argument("--length", type=int, default=256, help="profile length L (default 256)")
    parser.add_argument("--part", default=None, help="part whose speed grade caps the clock (default xc7k160tffg676-2)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per Yosys run (default 900)")
    parser.add_argument("--csv", type=Path, default=None, help="also write the rows to this CSV file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print (and optionally write) the hardware rows."""
    from workbench.qnn.contract import load_network
    from workbench.hdl.hardware import hardware_rows
    from workbench.hdl.network import network_design
    from workbench.hdl.table import write_rows
    from workbench.hdl.vivado import DEFAULT_PART

    network = load_network(args.model)
    part = args.part or DEFAULT_PART
    rows = hardware_rows(args.model.stem, network, lambda lanes: network_design(network, lanes, args.length, args.pipeline_stages,
                                                                           args.arithmetic),
                         yosys_lanes=args.lanes, scaled_lanes=args.scaled, analytic_lanes=args.analytic,
                         part=part, timeout_s=args.timeout, pipeline_stages=args.pipeline_stages, arithmetic=args.arithmetic)
    print(f"{'lanes':>5} {'method':>12} {'LUT':>7} {'FF':>7} {'CARRY4':>6} {'DSP':>4} {'BRAM':>5} "
          f"{'LUT an.':>7} {'f_est MHz':>9} {'Gpix/s':>7} {'TOPS':>7}")
    for r in rows:
        print(f"{r['lanes']:>5} {r['method']:>12} {r['luts']:>7} {r['ffs']:>7} {r['carry4']:>6} {r['dsps']:>4} "
              f"{r['brams']:>5} {r['luts_analytic']:>7} {r.get('f_est_mhz', ''):>9} "
              f"{r.get('gpix_per_s_est', ''):>7} {r.get('tops_est', ''):>7}")
    print(f"clock: Yosys cell delays x routing factor, capped at the {part} fabric limit; pre-route, "
          "so designs are only 'estimated to reach' these rates (no power estimate: use Vivado).")
    if args.csv:
        write_rows(args.csv, rows)
        print(f"wrote {args.csv}")
    return 0

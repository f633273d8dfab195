"""`workbench hdl`: VHDL-2008 and Verilog for Vivado, with self-checking testbenches and vectors.

    workbench hdl --model m.json --lanes 4 --out hdl_p4 --verify
"""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands.options import add_arithmetic_option
from workbench.hw.top import DEFAULT_PIPELINE_STAGES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `hdl` sub-command."""
    parser = subparsers.add_parser(
        "hdl", help="convert a qnn-int/1 network (or a qnn-int/2 hybrid with a fixed refinement) to VHDL/Verilog with testbenches and a Vivado script",
        description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 or qnn-int/2 JSON document (a qnn-int/2 refinement must be fixed)")
    parser.add_argument("--lanes", type=int, default=1, help="pixels per clock P (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced)")
    parser.add_argument("--pipeline-stages", type=int, default=DEFAULT_PIPELINE_STAGES,
                        help=f"register stages per adder tree (default {DEFAULT_PIPELINE_STAGES})")
    add_arithmetic_option(parser)
    parser.add_argument("--length", type=int, default=256, help="profile length L, a multiple of P (default 256)")
    parser.add_argument("--profiles", type=int, default=200, help="test profiles in the vectors (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test profiles")
    parser.add_argument("--part", default=None, help="FPGA part for the Vivado script (default xc7k160tffg676-2)")
    parser.add_argument("--clock-mhz", type=float, default=None, help="clock constraint (default 250)")
    parser.add_argument("--verify", action="store_true",
                        help="run the testbenches in GHDL and Icarus (both stimuli) and fail on any mismatch")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per simulator run (default 600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the HDL folder and optionally verify it."""
    import numpy as np

    from workbench.qnn.contract_v2 import load_document
    from workbench.hdl.network import document_design
    from workbench.hdl.package import write_package
    from workbench.verify.document_check import document_vectors
    from workbench.verify.vectors import stress_profiles
    from workbench.verify.check import verify_package
    from workbench.hdl.vivado import DEFAULT_CLOCK_MHZ, DEFAULT_PART

    model = load_document(args.model)
    design = document_design(model, args.lanes, args.length, args.pipeline_stages, args.arithmetic)
    profiles = stress_profiles(np.random.default_rng(args.seed), args.profiles, args.length, model.network.input_bits)
    package = write_package(design, args.out, document_vectors(model, profiles), document=model.document,
                            part=args.part or DEFAULT_PART, clock_mhz=args.clock_mhz or DEFAULT_CLOCK_MHZ)
    print(f"wrote {package.root} (top {design.name}, P={design.lanes}, L={design.profile_length}, "
          f"{package.design['values']} values in the vectors); see {package.root / 'README.md'}")
    if args.verify:
        for verdict in verify_package(package, timeout_s=args.timeout):
            print(f"{verdict.simulator:7s} PASS compared={verdict.compared} mismatches={verdict.mismatches} "
                  f"({verdict.seconds:.1f} s, {verdict.clocks_per_second:,.0f} clocks/s)")
    return 0

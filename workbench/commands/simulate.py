"""`workbench simulate`: drive profiles through the MyHDL hardware cycle by cycle and check it against the golden model.

    workbench simulate --model m.json --data d.npz --lanes 4 [--profiles 50] [--vcd trace.vcd]
    workbench simulate --model m.json --preset mixed --length 64 --lanes 8
"""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands.options import add_arithmetic_option
from workbench.hw.top import DEFAULT_PIPELINE_STAGES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` sub-command."""
    parser = subparsers.add_parser(
        "simulate", help="cycle-by-cycle MyHDL simulation of a qnn-int/1 network (or a qnn-int/2 hybrid with a fixed refinement), checked against the golden model",
        description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 or qnn-int/2 JSON document (a qnn-int/2 refinement must be fixed)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="dataset .npz with a `profiles` array (N, L)")
    source.add_argument("--preset", help="generate profiles with this signal generator preset instead")
    add_arithmetic_option(parser)
    parser.add_argument("--length", type=int, default=64, help="profile length L with --preset (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --preset profiles and of --gaps")
    parser.add_argument("--lanes", type=int, default=1, help="pixels per clock P, 1..32 (default 1)")
    parser.add_argument("--profiles", type=int, default=20, help="profiles to simulate (default 20)")
    parser.add_argument("--pipeline-stages", type=int, default=DEFAULT_PIPELINE_STAGES,
                        help=f"register stages per adder tree (default {DEFAULT_PIPELINE_STAGES}, as the HDL)")
    parser.add_argument("--gaps", type=float, default=0.0,
                        help="share of beats preceded by 1-3 idle clocks, in [0, 1] (default 0)")
    parser.add_argument("--vcd", type=Path, default=None, help="write a VCD trace (GTKWave) here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, compare, print the report; exit code 1 on any mismatch."""
    from workbench.hdl.network import document_design
    from workbench.qnn.contract_v2 import load_document
    from workbench.verify.document_check import compare_document
    from workbench.verify.harness import latencies, load_profiles, run_design

    model = load_document(args.model)
    profiles = load_profiles(model.network, args.data, args.preset, args.length, args.seed, args.profiles)
    design = document_design(model, args.lanes, int(profiles.shape[1]), args.pipeline_stages, args.arithmetic)
    sim = run_design(design, profiles, gap_probability=args.gaps, seed=args.seed, vcd=args.vcd)
    result = compare_document(model, profiles, sim)
    score_lat, result_lat = latencies(sim, design.beats_per_profile)
    n = profiles.shape[0]
    print(f"design      P={design.lanes} L={design.profile_length} score width {design.score_bits} bits, "
          f"pos width {design.pos_bits} bits, pipeline {args.pipeline_stages}, top {design.name}")
    print(f"compared    {result.scores_compared} scores, {result.results_compared} (found, pos) results")
    print(f"mismatches  {result.mismatches} ({result.score_mismatches} scores, {result.result_mismatches} results)"
          + (f"; first: {result.first_mismatch}" if result.first_mismatch else ""))
    print(f"latency     scores {_span(score_lat)} cycles (design {design.latency}), "
          f"results {_span(result_lat)} cycles after the last beat (design {design.result_latency})")
    spacing = sim.cycles_per_profile
    print(f"throughput  {spacing:.2f} cycles per profile between results ({design.beats_per_profile} beats"
          f" per profile), {sim.cycles} cycles simulated for {n} profiles" if spacing else
          f"throughput  one profile: {sim.cycles} cycles simulated")
    print(f"speed       {sim.cycles_per_second:,.0f} cycles/s ({sim.seconds:.2f} s)")
    if args.vcd:
        print(f"trace       {args.vcd}")
    return 1 if result.mismatches else 0


def _span(values: list[int]) -> str:
    if not values:
        return "-"
    return str(values[0]) if min(values) == max(values) else f"{min(values)}..{max(values)}"

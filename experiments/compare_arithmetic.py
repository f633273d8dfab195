#!/usr/bin/env python3
"""Per-output adder trees against shared subexpressions, side by side in the same Yosys flow.

For one network (a trained `qnn-int/1` document, or a random one of the default topology) and each
register-stage count, both arithmetics build the whole 1-lane peak detector (line buffers and head
included, identical in both), which `workbench.hdl.synth` synthesises (`synth_xilinx -abc9`, a
`-nodsp` run whenever DSPs appear; LUT = LUT1..6 + INV + LUT-RAM). One CSV row per design:
LUTs, FFs, CARRY4, DSPs of the DSP-free netlist, Yosys's cell-only arrival time and the pre-route
clock estimate, and the analytic count of two-input adders in the constant products.

    python experiments/compare_arithmetic.py --model qat_4-4.json --stages 3 --out arithmetic.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.qnn.contract import ConvLayer, Network, load_network  # noqa: E402

COLUMNS = ("model", "arithmetic", "lanes", "pipeline_stages", "adders", "luts", "ffs", "carry4", "dsps",
           "arrival_ns", "f_est_mhz", "yosys_seconds")


def constant_adders(network: Network, lanes: int, arithmetic: str) -> int:
    """Two-input adders of every constant product (layers and requantizer products) at `lanes` lanes."""
    from workbench.hw.adder_graph import adder_count
    from workbench.hw.cse import product_graph
    from workbench.hw.mac import conv_sums
    from workbench.hw.requant import product_sums, uses_thresholds
    from workbench.hw.stream import Fmt
    from workbench.hw.top import THRESHOLD_BITS

    total = 0
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            sums = conv_sums(layer, lanes)
        elif uses_thresholds(layer, THRESHOLD_BITS):
            continue
        else:
            sums = product_sums(layer, lanes)
        fields = (Fmt(0, 1),) * (1 + max((t.field for s in sums for t in s.terms), default=0))  # count ignores ranges
        total += adder_count(product_graph(sums, fields, lanes, share=arithmetic == "shared"))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="qnn-int/1 document (default: a random network of the default topology, seed 0)")
    parser.add_argument("--stages", default="3", help="register stages per constant product, e.g. 2,3,4")
    parser.add_argument("--lanes", type=int, default=1)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--part", default=None)
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args()

    from workbench.evaluation.tables import write_csv
    from workbench.hdl.hardware import synthesize_design
    from workbench.hdl.network import network_design
    from workbench.hdl.vivado import DEFAULT_PART
    from workbench.hw.arithmetic import ARITHMETICS

    if args.model is not None:
        network, model = load_network(args.model), args.model.stem
    else:
        from workbench.qnn.randnet import random_document
        network, model = load_network(random_document(np.random.default_rng(0))), "random-seed0"
    part = args.part or DEFAULT_PART
    rows = []
    for stages in [int(s) for s in args.stages.split(",")]:
        for arithmetic in ARITHMETICS:
            design = network_design(network, args.lanes, args.length, stages, arithmetic)
            result = synthesize_design(design)
            counts = result.no_dsp
            rows.append({"model": model, "arithmetic": arithmetic, "lanes": args.lanes, "pipeline_stages": stages,
                         "adders": constant_adders(network, args.lanes, arithmetic), "luts": counts.luts,
                         "ffs": counts.ffs, "carry4": counts.carry4, "dsps": counts.dsps,
                         "arrival_ns": result.arrival_ns, "f_est_mhz": round(result.clock_estimate_mhz(part), 1),
                         "yosys_seconds": round(result.seconds, 1)})
            print(rows[-1], flush=True)
    write_csv(rows, args.out, COLUMNS)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Yosys resources of a network's hybrid in hardware beside its network-only peak detector, one flow.

The network of `--model` (a `qnn-int/1` or `qnn-int/2` document; a trained one) with a fixed refinement
(`--refinement`, a name of `workbench.qnn.refinement.REFINEMENTS`, `--frac-bits`) as a `qnn-int/2` document,
built by `workbench.hdl.network.document_design` (the hybrid, `workbench.hw.hybrid_top`), the document's own
adaptive refinement when it has one (`workbench.hw.adaptive_top`) and, for comparison, the
network alone (`peak_detector`), all at the shipped pipeline depth and `trees` products,
synthesised by `workbench.hdl.hardware.synthesize_design` (Yosys `synth_xilinx -abc9`, cached by netlist).

    python experiments/synth_hybrid.py --model models/qat_4-4_hybrid/model.json --refinement br8 --lanes 1
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.hdl.hardware import synthesize_design  # noqa: E402
from workbench.hdl.network import document_design  # noqa: E402
from workbench.hdl.vivado import DEFAULT_PART  # noqa: E402
from workbench.qnn.contract_v2 import hybrid_document, load_document, version1_part  # noqa: E402
from workbench.qnn.refinement import Refinement, named_refinement  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 or qnn-int/2 document")
    parser.add_argument("--refinement", default="br8", help="fixed refinement by name (default br8)")
    parser.add_argument("--frac-bits", type=int, default=6, help="the refinement's F (default 6)")
    parser.add_argument("--lanes", type=int, default=1)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per Yosys run")
    args = parser.parse_args()
    document = json.loads(args.model.read_text())
    taps = named_refinement(args.refinement).taps
    designs = {"network": load_document(version1_part(document)),
               f"hybrid {args.refinement}": load_document(hybrid_document(
                   document, Refinement(args.refinement, taps, args.frac_bits)))}
    own = load_document(document)
    if own.refinement is not None and not isinstance(own.refinement, Refinement):
        designs["hybrid, the document's adaptive refinement"] = own
    for label, model in designs.items():
        design = document_design(model, args.lanes, args.length)
        result = synthesize_design(design, timeout_s=args.timeout)
        row = {"design": label, "top": design.name, "lanes": args.lanes, "latency": design.latency,
               "result_latency": design.result_latency, **result.summary(DEFAULT_PART)}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Per-output adder trees, shared subexpressions and da4ml side by side, in one Yosys flow.

Two tables, every design synthesised by `workbench.hdl.synth` (Yosys `synth_xilinx -abc9`, a `-nodsp`
run whenever DSPs appear; LUT = LUT1..6 + INV + LUT-RAM; cell-only arrival time and the pre-route
clock estimate):

- `products.csv`, the constant matrix-vector products alone: for each convolution or dense layer,
  the product of one output pixel (`k * in_channels` unsigned input fields, the layer's weights and
  bias), at several pipeline depths. This project's products are the `trees` and `shared` blocks of
  `workbench.hw` (registered outputs, `stages` register levels). da4ml (an optional benchmark
  dependency, pip package `da4ml`, never needed by the workbench; skipped with `--cutoffs ""`)
  builds its own CMVM solution of the same integer matrix, pipelined with `latency_cutoff` adder
  levels per stage, inputs and outputs registered. Every design is checked against `W x + b` in
  integers first (this project's through its adder graph, da4ml's through its traced logic).
- `designs.csv`, the whole 1-lane peak detector (line buffers and head included, identical in
  both) with each arithmetic, at `--design-stages` (skipped when empty: minutes per design).

    python experiments/compare_arithmetic.py --model qat_4-4.json --stages 1,2,3 --cutoffs 2,4 \
        --design-stages 3 --out results/arithmetic/
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.qnn.contract import ConvLayer, Network, RequantLayer, load_network  # noqa: E402

SYNTH_COLUMNS = ("luts", "ffs", "carry4", "dsps", "arrival_ns", "f_est_mhz", "yosys_seconds")
PRODUCT_COLUMNS = ("model", "layer", "generator", "depth_setting", "adders", "checked_values") + SYNTH_COLUMNS
DESIGN_COLUMNS = ("model", "arithmetic", "lanes", "pipeline_stages", "adders") + SYNTH_COLUMNS


def layer_inputs(network: Network) -> list[tuple[ConvLayer, int]]:
    """Every weight layer with the largest value of its (unsigned) input fields."""
    hi, pairs = network.input_range[1], []
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            pairs.append((layer, hi))
        elif isinstance(layer, RequantLayer):
            if layer.signed:
                raise SystemExit(f"{layer.name}: signed activations are not handled by this benchmark")
            hi = layer.hi
    return pairs


def _test_inputs(n_inputs: int, hi: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([np.eye(n_inputs, dtype=np.int64) * hi, rng.integers(0, hi + 1, size=(64, n_inputs))])


def ours(layer: ConvLayer, hi: int, arithmetic: str, stages: int, folder: Path) -> tuple[Path, str, int, int]:
    """This project's products of one pixel as a Verilog file; (file, top, adders, values checked)."""
    from myhdl import ResetSignal, Signal, block

    from workbench.hdl.convert import convert_block
    from workbench.hw.adder_graph import adder_count, evaluate
    from workbench.hw.arithmetic import sums_block
    from workbench.hw.cse import product_graph
    from workbench.hw.mac import conv_sums
    from workbench.hw.stream import Fmt, Stream, new_stream

    sums = conv_sums(layer, 1)
    fields = (Fmt(0, hi, raw=True),) * (layer.kernel_size * layer.in_channels)
    graph = product_graph(sums, fields, share=arithmetic == "shared")
    x = _test_inputs(len(fields), hi)
    expected = x @ layer.weights.reshape(len(fields), -1) + layer.bias
    if not np.array_equal(evaluate(graph, x), expected):
        raise SystemExit(f"{layer.name}: the {arithmetic} graph does not compute W x + b")
    inp, out = new_stream(fields, 1), new_stream([s.out for s in sums], 1)

    @block
    def products(clk: Any, rst: Any, din: Any, din_valid: Any, din_first: Any, din_last: Any, dout: Any,
                 dout_valid: Any, dout_first: Any, dout_last: Any) -> Any:
        return sums_block(arithmetic)(clk, rst, Stream(din, inp.fields, 1, din_valid, din_first, din_last),
                                      Stream(dout, out.fields, 1, dout_valid, dout_first, dout_last), sums, stages)

    top = products(Signal(bool(0)), ResetSignal(0, active=1, isasync=False), inp.data, inp.valid, inp.first,
                   inp.last, out.data, out.valid, out.first, out.last)
    return convert_block(top, "Verilog", folder, "products"), "products", adder_count(graph), expected.size


def da4ml_products(layer: ConvLayer, hi: int, cutoff: int, folder: Path) -> tuple[Path, str, int, int]:
    """da4ml's products of one pixel as one Verilog file; (file, top, adders, values checked)."""
    from da4ml.codegen import RTLModel

    from workbench.hdl.tools import run_tool
    from da4ml.trace import FixedVariableArray, comb_trace

    weights = layer.weights.reshape(-1, layer.out_channels)
    n_inputs = weights.shape[0]
    bits = int(hi).bit_length()
    x = FixedVariableArray.from_kif(np.zeros(n_inputs, int), np.full(n_inputs, bits), np.zeros(n_inputs, int))
    comb = comb_trace(x, x @ weights.astype(np.float64) + layer.bias.astype(np.float64))
    values = _test_inputs(n_inputs, hi)
    got = np.array([comb(row) for row in values])
    expected = values @ weights + layer.bias
    if not np.array_equal(got, expected):
        raise SystemExit(f"{layer.name}: da4ml's logic does not compute W x + b")
    RTLModel(comb, "cmvm", folder / "prj", flavor="verilog", latency_cutoff=cutoff, print_latency=False).write()
    src = folder / "prj" / "src"
    if any((src / "memfiles").iterdir()):
        raise SystemExit(f"{layer.name}: da4ml used lookup tables, which this benchmark does not synthesise")
    sources = sorted(src.glob("*.v")) + sorted((src / "static").glob("*.v"))
    skipped = ("cmvm_wrapper.v", "lookup_table.v")  # a test wrapper, and the (unused) table ROM
    merged, flat = folder / "cmvm_all.v", folder / "cmvm_flat.v"
    merged.write_text("\n".join(path.read_text() for path in sources if path.name not in skipped))
    # one module, as this project's designs are (Yosys 0.23's `stat -json` garbles parametrised submodules)
    run_tool(["yosys", "-q", "-p", f"read_verilog {merged}; hierarchy -top cmvm; proc; flatten; opt_clean; "
                                   f"write_verilog -noattr {flat}"], cwd=folder, timeout_s=600)
    adders = sum(1 for op in comb.ops if op.opcode in (0, 1, 4))  # add, subtract, add a constant
    return flat, "cmvm", adders, expected.size


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


def product_rows(network: Network, model: str, stages: list[int], cutoffs: list[int], part: str) -> list[dict]:
    """`products.csv`: every layer's product with every generator and depth."""
    from workbench.hdl.synth import synthesize

    builds: list[tuple[str, str, Callable[[ConvLayer, int, Path], tuple[Path, str, int, int]]]] = []
    for count in stages:
        for arithmetic in ("trees", "shared"):
            builds.append((arithmetic, f"{count} stages",
                           lambda layer, hi, folder, a=arithmetic, s=count: ours(layer, hi, a, s, folder)))
    for cutoff in cutoffs:
        builds.append(("da4ml", f"{cutoff} levels per stage",
                       lambda layer, hi, folder, c=cutoff: da4ml_products(layer, hi, c, folder)))
    rows = []
    for layer, hi in layer_inputs(network):
        for generator, setting, build in builds:
            with tempfile.TemporaryDirectory(prefix="products-") as tmp:
                verilog, top, adders, checked = build(layer, hi, Path(tmp))
                result = synthesize(verilog, top)
            rows.append({"model": model, "layer": layer.name, "generator": generator, "depth_setting": setting,
                         "adders": adders, "checked_values": checked, **result.summary(part)})
            print(rows[-1], flush=True)
    return rows


def design_rows(network: Network, model: str, stages: list[int], arithmetics: list[str], length: int, part: str,
                timeout_s: float) -> list[dict]:
    """`designs.csv`: the whole 1-lane peak detector with each arithmetic and stage count."""
    from workbench.hdl.hardware import synthesize_design
    from workbench.hdl.network import network_design

    rows = []
    for count in stages:
        for arithmetic in arithmetics:
            result = synthesize_design(network_design(network, 1, length, count, arithmetic), timeout_s=timeout_s)
            rows.append({"model": model, "arithmetic": arithmetic, "lanes": 1, "pipeline_stages": count,
                         "adders": constant_adders(network, 1, arithmetic), **result.summary(part)})
            print(rows[-1], flush=True)
    return rows


def _ints(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="qnn-int/1 document")
    parser.add_argument("--stages", type=_ints, default=[1, 2, 3], help="register stages of this project's products")
    parser.add_argument("--cutoffs", type=_ints, default=[2, 4], help="da4ml adder levels per stage (empty: no da4ml)")
    parser.add_argument("--design-stages", type=_ints, default=[3], help="stages of the whole designs (empty: none)")
    parser.add_argument("--design-arithmetics", type=lambda text: text.split(","), default=["trees", "shared"],
                        help="arithmetics of the whole designs (default trees,shared)")
    parser.add_argument("--length", type=int, default=256, help="profile length of the whole designs")
    parser.add_argument("--part", default=None)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per Yosys run of a whole design")
    parser.add_argument("--out", type=Path, required=True, help="folder for products.csv and designs.csv")
    args = parser.parse_args()

    from workbench.evaluation.tables import write_csv
    from workbench.hdl.vivado import DEFAULT_PART

    network, model, part = load_network(args.model), args.model.stem, args.part or DEFAULT_PART
    tables = {"products.csv": (product_rows(network, model, args.stages, args.cutoffs, part), PRODUCT_COLUMNS)}
    if args.design_stages:
        rows = design_rows(network, model, args.design_stages, args.design_arithmetics, args.length, part,
                           args.timeout)
        tables["designs.csv"] = (rows, DESIGN_COLUMNS)
    for name, (rows, columns) in tables.items():
        write_csv(rows, args.out / name, columns)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

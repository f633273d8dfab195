"""Convolution and dense layers: a window (for `k > 1`) followed by constant-coefficient adder trees.

Lane `j`, output channel `o` computes `bias[o] + sum_{t,c} w[t][c][o] * x[j + t - h, c]`: each product
is the canonical-signed-digit expansion of the constant weight (`csd`), so the whole layer is
shifted additions and subtractions of window fields, pipelined by `adder_tree`. A `qdense` layer
(or a `k = 1` convolution) is pointwise channel mixing: no window, the tree reads the beat directly.
"""
from __future__ import annotations

from typing import Any

from workbench.qnn.contract import ConvLayer
from myhdl import block

from workbench.hw.adder_tree import SumSpec, Term, tree_stream
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC, sums_block
from workbench.hw.csd import csd_digits
from workbench.hw.stream import Fmt, Stream
from workbench.hw.window import window, window_latency, window_stream


def conv_sums(layer: ConvLayer, lanes: int) -> list[SumSpec]:
    """The `lanes * out_channels` sums of a layer over a window of `lanes + k - 1` pixels (pixel-major)."""
    sums = []
    for j in range(lanes):
        for o in range(layer.out_channels):
            terms = tuple(Term((j + t) * layer.in_channels + c, shift, sign)
                          for t in range(layer.kernel_size) for c in range(layer.in_channels)
                          for shift, sign in csd_digits(int(layer.weights[t, c, o])))
            sums.append(SumSpec(terms, int(layer.bias[o]), Fmt(int(layer.acc_min[o]), int(layer.acc_max[o]))))
    return sums


def conv_latency(layer: ConvLayer, lanes: int, pipeline_stages: int) -> int:
    """Cycles from a beat entering the layer to its accumulators leaving, with `valid` held high."""
    half = (layer.kernel_size - 1) // 2
    return (window_latency(half, lanes) if half else 0) + pipeline_stages


def conv_stream(layer: ConvLayer, lanes: int) -> Stream:
    """Fresh signals for a layer's accumulators: `lanes` pixels of `out_channels` fields."""
    return tree_stream(conv_sums(layer, 1) * lanes, lanes)


@block
def conv_layer(clk: Any, rst: Any, inp: Stream, out: Stream, layer: ConvLayer, pipeline_stages: int,
               arithmetic: str = DEFAULT_ARITHMETIC) -> Any:
    """`layer`'s accumulators for every beat of `inp`, driving `out` (see `conv_stream`); the
    products built as `arithmetic` says (see `workbench.hw.arithmetic`)."""
    half = (layer.kernel_size - 1) // 2
    sums = conv_sums(layer, inp.lanes)
    if not half:
        return sums_block(arithmetic)(clk, rst, inp, out, sums, pipeline_stages)
    win = window_stream(inp, half)
    return window(clk, rst, inp, win, half), sums_block(arithmetic)(clk, rst, win, out, sums, pipeline_stages)

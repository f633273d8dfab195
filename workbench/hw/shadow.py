"""A payload kept in step with a pipeline: each beat leaves in the cycle the pipeline's own beat leaves.

The hybrid (`workbench.hw.hybrid_top`) needs each raw sample beside the network's score of the same
pixel. No block of the pipeline moves a beat by its data: a `window` of half `h` releases beat `k` when
beat `k + ceil(h/P)` arrives or the profile's end flushes it (its flags alone decide), an adder tree or a
requantizer is a fixed number of registers. The same steps applied to another payload (a window of the
same half, then as many registers) on the same input flags therefore emit that payload's beat `k` in the
very cycle the pipeline emits its beat `k`, with gaps in `valid` as back to back. A step is
`(half, registers)`: a window of `half` (none for 0), then `registers` (>= 1) registers, the first of
which picks the window's centre pixels.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

from myhdl import block

from workbench.hw.adder_tree import delay_flags
from workbench.hw.codegen import Emitter, render
from workbench.hw.mac import conv_latency
from workbench.hw.requant import requant_latency
from workbench.hw.stream import Stream, field_offsets, new_stream
from workbench.hw.window import window, window_latency, window_stream
from workbench.qnn.contract import ConvLayer, Network

Step = tuple[int, int]  # (window half, registers after it)


def network_steps(network: Network, lanes: int, pipeline_stages: int, threshold_bits: int) -> tuple[Step, ...]:
    """The timing of the network's layers (`workbench.hw.top.network_layers`) as shadow steps."""
    steps = []
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            half = (layer.kernel_size - 1) // 2
            registers = conv_latency(layer, lanes, pipeline_stages) - (window_latency(half, lanes) if half else 0)
            steps.append((half, registers))
        else:
            steps.append((0, requant_latency(layer, pipeline_stages, threshold_bits)))
    return tuple(steps)


def shadow_stream(inp: Stream) -> Stream:
    """Fresh signals for the delayed payload: `inp`'s fields and lanes."""
    return new_stream(inp.fields, inp.lanes)


@block
def shadow_step(clk: Any, rst: Any, inp: Stream, out: Stream, half: int, registers: int, flags: bool = True) -> Any:
    """One step: `inp` through a window of `half` (none for 0) and `registers` registers, driving `out` (its
    `valid/first/last` only with `flags`: a payload packed beside another stream's flags leaves them unread)."""
    if registers < 1:
        raise ValueError("a shadow step needs at least one register")
    source = inp
    instances = []
    if half:
        source = window_stream(inp, half)
        instances.append(window(clk, rst, inp, source, half, flags))
    offsets = field_offsets(source.fields)
    channels = inp.channels
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": source.data, "dout": out.data}
    centre = f"din[{offsets[(half + inp.lanes) * channels]}:{offsets[half * channels]}]"
    for stage in range(1, registers):
        ports[f"d{stage}"] = new_stream(inp.fields, inp.lanes).data
        e.line(f"d{stage}.next = {centre}")
        centre = f"d{stage}"
    e.line(f"dout.next = {centre}")
    if flags:
        delay_flags(e, ports, source, out, registers)
    instances.append(render("shadow_logic", e, ports)())
    return instances


def shadow_blocks(clk: Any, rst: Any, inp: Stream, out: Stream, steps: Sequence[Step], flags: bool = True) -> list[Any]:
    """The steps in order from `inp` to `out`, each a `shadow_step` bound to its arguments (call each in the
    body of the block that holds it, as MyHDL wants); `out`'s flags driven only with `flags`."""
    parts = []
    for n, (half, registers) in enumerate(steps):
        last = n == len(steps) - 1
        target = out if last else shadow_stream(inp)
        parts.append(functools.partial(shadow_step, clk, rst, inp, target, half, registers, flags or not last))
        inp = target
    return parts

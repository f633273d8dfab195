"""The hybrid in hardware: a network and a FIXED refinement (a `qnn-int/2` document's) behind the peak detector's ports.

It computes `workbench.qnn.golden_v2` (never run here) with the ports, widths and timing rules of the
networks' `peak_detector` (`workbench.hw.top`): the network detects, the refinement on the RAW samples
locates. `P` lanes, profiles back to back or with gaps:

1. the network's layers on the raw stream, exactly as `peak_detector` builds them; `m_score_tdata`
   carries its scores, `latency` cycles after their pixels (the network's latency);
2. `shadow` (`workbench.hw.shadow`): the raw samples through the network's timing, so the sample `x[k]`
   leaves in the cycle the score `s[k]` does, gaps or not;
3. the classical detector's front end (`workbench.hw.br_top`) on those samples: `window` of the taps,
   `edge_replicate` (edge samples replicated, as the contract's rule), `adder_tree`: `d[k]`; beside it
   the scores through the front end's timing (a second `shadow`), so `(d[k], s[k])` meet;
4. `window` of `(d, s)` for `R = h + 1` pixels each side and the `crossing_head` with `gate="key"`: the
   first arg-max of `s` carrying `d[p-R .. p+R]`, the crossing nearest `p` (the left one on equal
   distance; only `0 <= i <= L-2`), `found = s[p] >= threshold` (the network head's threshold), the
   rounding division, `pos` in units of `2^-F` px (`F` the refinement's `frac_bits`), `p 2^F` without a
   crossing, 0 when not found.

`result_latency = latency + front end + (ceil(R/P) + 1) + crossing head`. The refinement comes as its taps
and `frac_bits` (`workbench.hdl.network.document_design` reads them from a document: this package never
reaches the golden model). The adaptive refinement is not built (`docs/heads.md` describes its datapath).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from myhdl import block

from workbench.errors import ConfigError
from workbench.hw.adder_tree import SumSpec, adder_tree, tree_stream
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC, check_arithmetic
from workbench.hw.br_top import MAX_FRAC_BITS, check_taps, derivative_sums, edge_replicate
from workbench.hw.codegen import Emitter, render
from workbench.hw.crossing import crossing_head, crossing_latency
from workbench.hw.interface import StreamDesign, port_signals
from workbench.hw.names import name_instances
from workbench.hw.shadow import network_steps, shadow_blocks, shadow_stream
from workbench.hw.stream import Stream, field_offsets, new_stream
from workbench.hw.top import (THRESHOLD_BITS, check_sizes, input_stream, network_latency, network_layers,
                              score_ports)
from workbench.hw.window import window, window_latency, window_stream
from workbench.qnn.contract import ConvLayer, Network, bit_width


@dataclass(frozen=True, kw_only=True)
class HybridDesign(StreamDesign):
    """A generated hybrid: the interface (`StreamDesign`) plus the network, the refinement's taps and settings."""

    network: Network
    taps: tuple[int, ...]
    pipeline_stages: int
    threshold_bits: int
    arithmetic: str


def front_end_latency(half: int, lanes: int, pipeline_stages: int) -> int:
    """Cycles of the derivative front end: the taps' window, the edge register, the adder tree."""
    return window_latency(half, lanes) + 1 + pipeline_stages


def build_hybrid_top(network: Network, taps: tuple[int, ...], frac_bits: int, lanes: int, profile_length: int,
                     pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
                     arithmetic: str = DEFAULT_ARITHMETIC) -> HybridDesign:
    """Check the settings and describe the hybrid of `network` with the refinement `taps`, `frac_bits`
    (ConfigError naming a bad value)."""
    taps = check_taps(taps)
    if not isinstance(frac_bits, int) or not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise ConfigError(f"frac_bits {frac_bits!r} invalid; allowed an integer in 0..{MAX_FRAC_BITS}")
    check_sizes(lanes, profile_length, pipeline_stages, min_length=2)
    check_arithmetic(arithmetic)
    half = (len(taps) - 1) // 2
    score_bits = bit_width(*network.score_range)
    pos_bits = max(1, ((profile_length - 1) << frac_bits).bit_length())
    latency = network_latency(network, lanes, pipeline_stages, threshold_bits)
    result_latency = (latency + front_end_latency(half, lanes, pipeline_stages) + window_latency(half + 1, lanes)
                      + crossing_latency(frac_bits, lanes))
    widths = {"s_tdata": lanes * network.input_bits, "m_score_tdata": lanes * score_bits, "m_pos": pos_bits}
    factory = functools.partial(hybrid_detector, network=network, taps=taps, frac_bits=frac_bits, lanes=lanes,
                                profile_length=profile_length, pipeline_stages=pipeline_stages,
                                threshold_bits=threshold_bits, arithmetic=arithmetic)
    return HybridDesign(name="hybrid_detector", lanes=lanes, profile_length=profile_length,
                        in_bits=network.input_bits, score_bits=score_bits, pos_bits=pos_bits, frac_bits=frac_bits,
                        latency=latency, result_latency=result_latency,
                        make_signals=functools.partial(port_signals, widths), factory=factory, network=network,
                        taps=taps, pipeline_stages=pipeline_stages, threshold_bits=threshold_bits,
                        arithmetic=arithmetic)


@block
def hybrid_detector(clk: Any, rst: Any, s_tdata: Any, s_tvalid: Any, s_tuser: Any, s_tlast: Any,
                    m_score_tdata: Any, m_score_tvalid: Any, m_score_tuser: Any, m_score_tlast: Any,
                    m_found: Any, m_pos: Any, m_result_tvalid: Any, network: Network, taps: tuple[int, ...],
                    frac_bits: int, lanes: int, profile_length: int, pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
                    arithmetic: str = DEFAULT_ARITHMETIC) -> Any:
    """The hybrid (module docstring); use `build_hybrid_top` to check the settings first."""
    half = (len(taps) - 1) // 2
    sums = derivative_sums(taps, network.input_bits, lanes)[::2]  # each lane's derivative (not its sample)
    parts, names, pixels = hybrid_front(clk, rst, (s_tdata, s_tvalid, s_tuser, s_tlast),
                                        (m_score_tdata, m_score_tvalid, m_score_tuser, m_score_tlast), network, lanes,
                                        half, sums, half + 1, profile_length, pipeline_stages, threshold_bits,
                                        arithmetic)
    instances = []
    for part in parts:  # blocks are called in this body, as MyHDL wants
        instances.append(part())
    instances.append(crossing_head(clk, rst, pixels, m_found, m_pos, m_result_tvalid, half + 1, lanes, profile_length,
                                   frac_bits=frac_bits, threshold=network.head.threshold, gate="key"))
    name_instances(instances, [*names, "head"])
    return instances


def hybrid_front(clk: Any, rst: Any, inputs: tuple, score_outputs: tuple, network: Network, lanes: int, half: int,
                 sums: list[SumSpec], radius: int, profile_length: int, pipeline_stages: int, threshold_bits: int,
                 arithmetic: str) -> tuple[list[Any], list[str], Stream]:
    """Everything of a hybrid before its head, as blocks bound to their arguments (call each in the top's body)
    with their instance names, and the window of `radius` pixels each side over each pixel's `sums` (over a
    replicated window of half `half`) and score.

    The network and its score ports; the raw samples in step with the scores (`shadow`); the front end on
    them (`window`, `edge_replicate`, `adder_tree` of `sums`); the scores in step with the front end; the
    fields packed per lane and windowed."""
    raw = input_stream(network, lanes, *inputs)
    layers, scores = network_layers(clk, rst, raw, network, pipeline_stages, threshold_bits, arithmetic)
    samples = shadow_stream(raw)
    raw_shadow = shadow_blocks(clk, rst, raw, samples, network_steps(network, lanes, pipeline_stages, threshold_bits))
    taps_win = window_stream(samples, half)
    replicated = new_stream((samples.fields[0],) * (lanes * (2 * half + 1)), lanes)
    derivatives = tree_stream(sums, lanes)
    delayed = shadow_stream(scores)
    # the delayed scores are packed beside the derivatives, whose flags the packed stream takes: no flags of their own
    score_shadow = shadow_blocks(clk, rst, scores, delayed, ((half, 1 + pipeline_stages),), flags=False)
    per_lane = len(sums) // lanes
    packed = new_stream([fmt for j in range(lanes)
                         for fmt in (*derivatives.fields[j * per_lane:(j + 1) * per_lane], delayed.fields[j])], lanes)
    pixels = window_stream(packed, radius)
    parts = [*layers, *raw_shadow, *score_shadow,
             functools.partial(score_ports, scores, *score_outputs),
             functools.partial(window, clk, rst, samples, taps_win, half),
             functools.partial(edge_replicate, clk, rst, taps_win, replicated, half, profile_length),
             functools.partial(adder_tree, clk, rst, replicated, derivatives, sums, pipeline_stages),
             functools.partial(pack_lanes, (derivatives, delayed), packed),
             functools.partial(window, clk, rst, packed, pixels, radius)]
    roles = [f"l{i}_{'conv' if isinstance(layer, ConvLayer) else 'req'}" for i, layer in enumerate(network.layers)]
    names = [*roles, *(f"{role}_raw" for role in roles), "score_delay", "score", "raw_win", "edge", "deriv", "pack",
             "win"]
    return parts, names, pixels


@block
def pack_lanes(sources: tuple[Stream, ...], out: Stream) -> Any:
    """Wires: lane `j` of `out` is every source's lane `j` fields in turn, with the first source's flags."""
    e = Emitter()
    o = field_offsets(out.fields)
    packed = e.bits("packed", o[-1])
    ports: dict[str, Any] = {"dout": out.data, "din_valid": sources[0].valid, "din_first": sources[0].first,
                             "din_last": sources[0].last, "dout_valid": out.valid, "dout_first": out.first,
                             "dout_last": out.last}
    field = 0
    for j in range(out.lanes):
        for n, source in enumerate(sources):
            ports[f"src{n}"] = source.data
            a = field_offsets(source.fields)
            for c in range(j * source.channels, (j + 1) * source.channels):
                e.line(f"{packed}[{o[field + 1]}:{o[field]}] = src{n}[{a[c + 1]}:{a[c]}]")
                field += 1
    e.line(f"dout.next = {packed}")
    for flag in ("valid", "first", "last"):
        e.line(f"dout_{flag}.next = din_{flag}")
    return render("pack_logic", e, ports, clocked=False)()

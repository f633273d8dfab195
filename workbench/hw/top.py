"""The streaming peak detector: the whole `qnn-int/1` network and its head behind AXI4-Stream style ports.

| port | dir | width | meaning |
|---|---|---|---|
| `clk` | in | 1 | clock, everything on the rising edge |
| `rst` | in | 1 | synchronous reset, active high |
| `s_tdata` | in | `P*B` | `P` unsigned `B`-bit pixels (`B` = input bits); lane `j` (pixel `beat*P + j`) at bits `[j*B+B-1 : j*B]` |
| `s_tvalid` | in | 1 | a beat is present (gaps allowed; no back-pressure: a beat is taken whenever it is high) |
| `s_tuser` | in | 1 | first beat of a profile |
| `s_tlast` | in | 1 | last beat of a profile (`L/P` beats per profile) |
| `m_score_tdata` | out | `P*SW` | the beat's scores, lane `j` a two's complement `SW`-bit number at bits `[j*SW+SW-1 : j*SW]` |
| `m_score_tvalid` | out | 1 | scores present, `latency` cycles after their input beat |
| `m_score_tuser` | out | 1 | first score beat of a profile |
| `m_score_tlast` | out | 1 | last score beat of a profile |
| `m_found` | out | 1 | the profile's `found` |
| `m_pos` | out | `PW` | unsigned `pos` in units of `2^-F` pixel (0 when not found), `PW` = bits of `(L-1)*2^F` |
| `m_result_tvalid` | out | 1 | `m_found`/`m_pos` present, `result_latency` cycles after the profile's last input beat |

`SW` is the two's complement width of the score range `[acc_min, acc_max]` of the last layer.
With `s_tvalid` held high the design takes one beat per clock (initiation interval 1), profiles
back to back with no idle cycle, and both latencies are constant:
`latency = sum over layers` (convolution: `ceil(h/P) + 1` window cycles when `k > 1`, plus
`pipeline_stages` adder-tree stages; requantizer: `pipeline_stages + 1`, or 1 as threshold comparisons) and
`result_latency = latency + head latency` (see `head.head_latency`). With gaps in `s_tvalid`
results stay exact; a profile's last outputs never wait for the next profile.

The generator only reads the document: it never runs the golden model.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from myhdl import block

from workbench.qnn.contract import ConvLayer, Network, bit_width, load_network
from workbench.errors import ConfigError
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC, check_arithmetic
from workbench.hw.codegen import Emitter, render
from workbench.hw.head import head_latency, peak_head_unit, pos_bits
from workbench.hw.interface import StreamDesign, port_signals
from workbench.hw.mac import conv_latency, conv_layer, conv_stream
from workbench.hw.names import name_blocks
from workbench.hw.requant import requant_latency, requant_stream, requantizer
from workbench.hw.stream import Fmt, Stream, field_offsets

MAX_LANES = 32
# Register stages per adder tree that the shipped HDL, the run_all stages and `workbench simulate`
# use: Yosys estimates 188 MHz for the 4/4 network at P=1 (118 with 1 stage, 200 with 5).
# `build_top` itself defaults to 1, the smallest design, which the unit tests simulate fastest.
DEFAULT_PIPELINE_STAGES = 3
THRESHOLD_BITS = 2  # unsigned requantizers up to this width become 2^bits - 1 comparisons


@dataclass(frozen=True, kw_only=True)
class TopDesign(StreamDesign):
    """A generated peak detector: the interface description (`StreamDesign`: sizes, latencies,
    fresh port signals, the `peak_detector` factory) plus the network and the generator settings."""

    network: Network
    pipeline_stages: int
    threshold_bits: int
    score_min: int
    score_max: int
    arithmetic: str = DEFAULT_ARITHMETIC


def build_top(network: Union[Network, dict, str, Path], lanes: int, profile_length: int,
              pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
              arithmetic: str = DEFAULT_ARITHMETIC) -> TopDesign:
    """Check the configuration and describe the peak detector for `network` (a Network, document or path).

    `arithmetic` chooses how constant products are built (`workbench.hw.arithmetic.ARITHMETICS`).

    Raises ContractError for a bad document and ConfigError for bad sizes, before anything is built.
    """
    if not isinstance(network, Network):
        network = load_network(network)
    check_sizes(lanes, profile_length, pipeline_stages)
    check_arithmetic(arithmetic)
    score_min, score_max = network.score_range
    score_bits = bit_width(score_min, score_max)
    latency = network_latency(network, lanes, pipeline_stages, threshold_bits)
    widths = {"s_tdata": lanes * network.input_bits, "m_score_tdata": lanes * score_bits,
              "m_pos": pos_bits(network.head, profile_length)}
    make_signals = functools.partial(port_signals, widths)

    factory = functools.partial(peak_detector, network=network, lanes=lanes, profile_length=profile_length,
                                pipeline_stages=pipeline_stages, threshold_bits=threshold_bits, arithmetic=arithmetic)

    return TopDesign(name="peak_detector", lanes=lanes, profile_length=profile_length, in_bits=network.input_bits,
                     score_bits=score_bits, pos_bits=widths["m_pos"], frac_bits=network.head.frac_bits,
                     latency=latency, result_latency=latency + head_latency(network.head, lanes),
                     make_signals=make_signals, factory=factory, network=network, pipeline_stages=pipeline_stages,
                     threshold_bits=threshold_bits, score_min=score_min, score_max=score_max,
                     arithmetic=arithmetic)


def check_sizes(lanes: int, profile_length: int, pipeline_stages: int, min_length: int = 1) -> None:
    """ConfigError naming the value unless 1 <= lanes <= MAX_LANES, the profile length is a multiple of the
    lanes of at least `min_length`, and pipeline_stages >= 1."""
    if not isinstance(lanes, int) or not 1 <= lanes <= MAX_LANES:
        raise ConfigError(f"lanes is {lanes!r}; allowed: an integer in [1, {MAX_LANES}]")
    if not isinstance(profile_length, int) or profile_length < min_length or profile_length % lanes:
        at_least = f" (at least {min_length})" if min_length > 1 else ""
        raise ConfigError(f"profile length {profile_length!r} is not a positive multiple of the {lanes} lanes"
                          + at_least)
    if not isinstance(pipeline_stages, int) or pipeline_stages < 1:
        raise ConfigError(f"pipeline_stages is {pipeline_stages!r}; allowed: an integer >= 1")


@block
def peak_detector(clk: Any, rst: Any, s_tdata: Any, s_tvalid: Any, s_tuser: Any, s_tlast: Any,
                  m_score_tdata: Any, m_score_tvalid: Any, m_score_tuser: Any, m_score_tlast: Any,
                  m_found: Any, m_pos: Any, m_result_tvalid: Any, network: Network, lanes: int,
                  profile_length: int, pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
                  arithmetic: str = DEFAULT_ARITHMETIC) -> Any:
    """The peak detector (ports in the module docstring); use `build_top` to check sizes first."""
    stream = input_stream(network, lanes, s_tdata, s_tvalid, s_tuser, s_tlast)
    parts, stream = network_layers(clk, rst, stream, network, pipeline_stages, threshold_bits, arithmetic)
    instances = []
    for part in parts:
        instances.append(part())
    instances.append(score_ports(stream, m_score_tdata, m_score_tvalid, m_score_tuser, m_score_tlast))
    instances.append(peak_head_unit(clk, rst, stream, m_found, m_pos, m_result_tvalid, network.head, profile_length))
    name_blocks(instances)
    return instances


def input_stream(network: Network, lanes: int, s_tdata: Any, s_tvalid: Any, s_tuser: Any, s_tlast: Any) -> Stream:
    """The top-level's input ports as a stream of `lanes` raw unsigned pixels."""
    return Stream(s_tdata, (Fmt(0, network.input_range[1], raw=True),) * lanes, lanes, s_tvalid, s_tuser, s_tlast)


def network_layers(clk: Any, rst: Any, stream: Stream, network: Network, pipeline_stages: int,
                   threshold_bits: int, arithmetic: str) -> tuple[list[Any], Stream]:
    """The network's layers on `stream`, in document order, as blocks bound to their arguments (MyHDL
    wants a block called in the body of the block that holds it: call each there), and the scores' stream."""
    parts = []
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            out = conv_stream(layer, stream.lanes)
            parts.append(functools.partial(conv_layer, clk, rst, stream, out, layer, pipeline_stages, arithmetic))
        else:
            out = requant_stream(layer, stream.lanes)
            parts.append(functools.partial(requantizer, clk, rst, stream, out, layer, pipeline_stages,
                                           threshold_bits, arithmetic))
        stream = out
    return parts, stream


def network_latency(network: Network, lanes: int, pipeline_stages: int, threshold_bits: int) -> int:
    """Cycles from an input beat to its score beat, with `valid` held high."""
    return sum(conv_latency(layer, lanes, pipeline_stages) if isinstance(layer, ConvLayer)
               else requant_latency(layer, pipeline_stages, threshold_bits) for layer in network.layers)


@block
def score_ports(scores: Stream, m_score_tdata: Any, m_score_tvalid: Any, m_score_tuser: Any,
                 m_score_tlast: Any) -> Any:
    """Wire the scores, the first field of each lane (the whole beat when a lane has one field), to the
    score stream ports."""
    e = Emitter()
    if scores.channels == 1:
        e.line("m_score_tdata.next = din")
    else:
        offsets = field_offsets(scores.fields)
        width = scores.fields[0].width
        packed = e.bits("packed_scores", len(m_score_tdata))
        for j in range(scores.lanes):
            first = j * scores.channels
            e.line(f"{packed}[{(j + 1) * width}:{j * width}] = din[{offsets[first + 1]}:{offsets[first]}]")
        e.line(f"m_score_tdata.next = {packed}")
    e.line("m_score_tvalid.next = din_valid")
    e.line("m_score_tuser.next = din_first")
    e.line("m_score_tlast.next = din_last")
    ports = {"din": scores.data, "din_valid": scores.valid, "din_first": scores.first, "din_last": scores.last,
             "m_score_tdata": m_score_tdata, "m_score_tvalid": m_score_tvalid, "m_score_tuser": m_score_tuser,
             "m_score_tlast": m_score_tlast}
    return render("score_ports_logic", e, ports, clocked=False)()

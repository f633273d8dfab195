"""The classical detector in hardware: the streaming integer Blais–Rioux detector behind the peak detector's ports.

It computes `workbench.qnn.br8_integer` (the golden model, which this generator never runs) with the
ports, widths and timing rules of the networks' `peak_detector` (`workbench.hw.top`), so the HDL flow
(conversion, testbenches, vectors, Yosys) takes it unchanged. `P` lanes (pixels per clock), profiles
back to back or with gaps:

1. `window` of the raw samples for taps `-h .. h` (zero beyond the profile), then `edge_replicate`
   (one register): a tap beyond the profile takes the nearest in-profile sample (edge replication,
   as the golden model's derivative);
2. `adder_tree` (`pipeline_stages` register levels): the derivative `d[i] = sum_t taps[t] x[i+t-h]`
   as shifted additions of the taps' signed digits, and the sample `x[i]` itself;
   `m_score_tdata` carries `d` (two's complement, `SW` bits), `latency` cycles after `x[i]` with
   `valid` held high (the window waits for `x[i + h]`);
3. `window` of `(d, x)` for `R = h + 1` pixels each side, then the `crossing_head`
   (`workbench.hw.crossing`): the lane select at `P > 1`, the first arg-max of `x`, the zero crossing nearest it, the slope
   threshold, the rounding division, `(found, pos)` in units of `2^-F` px.

The taps are a parameter (odd length, antisymmetric, positive on a rising edge): BR8 is
`(-1, -1, -1, -1, 0, 1, 1, 1, 1)`; the hybrid's other refinements only change them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from myhdl import Signal, block, intbv

from workbench.errors import ConfigError
from workbench.hw.adder_tree import SumSpec, Term, adder_tree, tree_stream
from workbench.hw.codegen import Emitter, beat_start, render
from workbench.hw.crossing import crossing_head, crossing_latency
from workbench.hw.csd import csd_digits
from workbench.hw.interface import StreamDesign, port_signals
from workbench.hw.names import name_instances
from workbench.hw.stream import Fmt, Stream, field_offsets, new_stream
from workbench.hw.top import MAX_LANES, score_ports
from workbench.hw.window import window, window_latency, window_stream

MAX_FRAC_BITS = 16


@dataclass(frozen=True, kw_only=True)
class BRDesign(StreamDesign):
    """A generated classical detector: the interface (`StreamDesign`) plus its settings."""

    taps: tuple[int, ...]
    threshold: int
    pipeline_stages: int


def derivative_range(taps: tuple[int, ...], in_bits: int) -> tuple[int, int]:
    """`[lo, hi]` of the derivative on unsigned `in_bits`-bit samples."""
    full = (1 << in_bits) - 1
    return full * sum(t for t in taps if t < 0), full * sum(t for t in taps if t > 0)


def check_taps(taps: tuple[int, ...]) -> tuple[int, ...]:
    """The taps as a tuple of ints; ConfigError unless odd (>= 3), antisymmetric and positive on a rising edge."""
    taps = tuple(taps)
    half = (len(taps) - 1) // 2
    if len(taps) < 3 or len(taps) % 2 == 0 or not all(isinstance(t, int) for t in taps) \
            or any(taps[k] != -taps[-1 - k] for k in range(len(taps))) \
            or sum((k - half) * t for k, t in enumerate(taps)) <= 0:
        raise ConfigError(f"taps {taps!r} invalid; allowed an odd number (>= 3) of integers, antisymmetric "
                          "(taps[t] = -taps[-1-t]) with a positive first moment")
    return taps


def build_br_top(taps: tuple[int, ...], frac_bits: int, threshold: int, profile_length: int, in_bits: int = 8,
                 lanes: int = 1, pipeline_stages: int = 1) -> BRDesign:
    """Check the settings and describe the classical detector (ConfigError naming a bad value)."""
    taps = check_taps(taps)
    if not isinstance(lanes, int) or not 1 <= lanes <= MAX_LANES:
        raise ConfigError(f"lanes is {lanes!r}; allowed: an integer in [1, {MAX_LANES}]")
    if not isinstance(in_bits, int) or not 1 <= in_bits <= 16:
        raise ConfigError(f"input bits {in_bits!r} invalid; allowed an integer in 1..16")
    if not isinstance(frac_bits, int) or not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise ConfigError(f"frac_bits {frac_bits!r} invalid; allowed an integer in 0..{MAX_FRAC_BITS}")
    if not isinstance(threshold, int):
        raise ConfigError(f"threshold {threshold!r} invalid; allowed an integer (slope units)")
    if not isinstance(profile_length, int) or profile_length < 2 or profile_length % lanes:
        raise ConfigError(f"profile length {profile_length!r} invalid; allowed a multiple of the {lanes} lanes, >= 2")
    if not isinstance(pipeline_stages, int) or pipeline_stages < 1:
        raise ConfigError(f"pipeline_stages is {pipeline_stages!r}; allowed: an integer >= 1")
    half = (len(taps) - 1) // 2
    lo, hi = derivative_range(taps, in_bits)
    score_bits = Fmt(lo, hi).width
    pos_bits = max(1, ((profile_length - 1) << frac_bits).bit_length())
    latency = window_latency(half, lanes) + 1 + pipeline_stages
    result_latency = latency + window_latency(half + 1, lanes) + crossing_latency(frac_bits, lanes)
    widths = {"s_tdata": lanes * in_bits, "m_score_tdata": lanes * score_bits, "m_pos": pos_bits}
    make_signals = functools.partial(port_signals, widths)

    factory = functools.partial(br_detector, taps=taps, frac_bits=frac_bits, threshold=threshold,
                                profile_length=profile_length, in_bits=in_bits, lanes=lanes,
                                pipeline_stages=pipeline_stages)
    return BRDesign(name="br_detector", lanes=lanes, profile_length=profile_length, in_bits=in_bits,
                    score_bits=score_bits, pos_bits=pos_bits, frac_bits=frac_bits, latency=latency,
                    result_latency=result_latency, make_signals=make_signals, factory=factory, taps=taps,
                    threshold=threshold, pipeline_stages=pipeline_stages)


def derivative_sums(taps: tuple[int, ...], in_bits: int, lanes: int) -> list[SumSpec]:
    """The adder tree's two sums per lane over the lane's `len(taps)` replicated samples (lane-major
    fields, `edge_replicate`'s output): the derivative and the centre sample."""
    width = len(taps)
    sums = []
    for j in range(lanes):
        terms = tuple(Term(j * width + k, shift, sign) for k, t in enumerate(taps) for shift, sign in csd_digits(t))
        sums += [SumSpec(terms, 0, Fmt(*derivative_range(taps, in_bits))),
                 SumSpec((Term(j * width + width // 2, 0, 1),), 0, Fmt(0, (1 << in_bits) - 1))]
    return sums


@block
def br_detector(clk: Any, rst: Any, s_tdata: Any, s_tvalid: Any, s_tuser: Any, s_tlast: Any,
                m_score_tdata: Any, m_score_tvalid: Any, m_score_tuser: Any, m_score_tlast: Any,
                m_found: Any, m_pos: Any, m_result_tvalid: Any, taps: tuple[int, ...], frac_bits: int,
                threshold: int, profile_length: int, in_bits: int, lanes: int = 1, pipeline_stages: int = 1) -> Any:
    """The classical detector (module docstring); use `build_br_top` to check the settings first."""
    half = (len(taps) - 1) // 2
    sample = Fmt(0, (1 << in_bits) - 1, raw=True)
    raw = Stream(s_tdata, (sample,) * lanes, lanes, s_tvalid, s_tuser, s_tlast)
    taps_win = window_stream(raw, half)
    replicated = new_stream((sample,) * (lanes * len(taps)), lanes)
    sums = derivative_sums(taps, in_bits, lanes)
    values = tree_stream(sums, lanes)
    pixels = window_stream(values, half + 1)
    instances = [window(clk, rst, raw, taps_win, half),
                 edge_replicate(clk, rst, taps_win, replicated, half, profile_length),
                 adder_tree(clk, rst, replicated, values, sums, pipeline_stages),
                 score_ports(values, m_score_tdata, m_score_tvalid, m_score_tuser, m_score_tlast),
                 window(clk, rst, values, pixels, half + 1),
                 crossing_head(clk, rst, pixels, m_found, m_pos, m_result_tvalid, half + 1, lanes, profile_length,
                               frac_bits, threshold)]
    name_instances(instances, ("raw_win", "edge", "deriv", "score", "win", "head"))
    return instances


@block
def edge_replicate(clk: Any, rst: Any, inp: Stream, out: Stream, half: int, profile_length: int) -> Any:
    """One register: each lane's taps `-half .. half` (lane-major, `2 half + 1` fields a lane) from the
    window `inp`, every tap beyond the profile replaced by the nearest in-profile sample (the beat's
    first pixel index counted from `first`)."""
    lanes = out.lanes
    width = 2 * half + 1
    e = Emitter()
    src, dst = field_offsets(inp.fields), field_offsets(out.fields)
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": inp.data, "din_valid": inp.valid,
                             "din_first": inp.first, "din_last": inp.last, "dout": out.data,
                             "dout_valid": out.valid, "dout_first": out.first, "dout_last": out.last,
                             "base": Signal(intbv(0)[max(1, (profile_length - 1).bit_length()):])}
    start = e.var("start", 0, profile_length)
    win = e.bits("win", dst[-1])

    def copy(lane: int, tap: int, source: str) -> None:
        field = lane * width + tap
        e.line(f"{win}[{dst[field + 1]}:{dst[field]}] = {source}")

    with e.indented("if din_valid:"):
        beat_start(e, start, lanes, len(ports['base']))
        for j in range(lanes):  # lane j's tap t is window pixel j + t, pixel start + j + t - half
            copy(j, half, f"din[{src[j + half + 1]}:{src[j + half]}]")
            for step in range(1, half + 1):
                for tap, inner, test in ((half + step, half + step - 1, f"{start} <= {profile_length - 1 - j - step}"),
                                         (half - step, half - step + 1,
                                          f"{start} >= {step - j}" if step > j else "")):
                    pixel = j + tap
                    if not test:  # in the profile whatever the beat
                        copy(j, tap, f"din[{src[pixel + 1]}:{src[pixel]}]")
                        continue
                    with e.indented(f"if {test}:"):
                        copy(j, tap, f"din[{src[pixel + 1]}:{src[pixel]}]")
                    with e.indented("else:"):
                        near = j * width + inner
                        copy(j, tap, f"{win}[{dst[near + 1]}:{dst[near]}]")
        e.line(f"dout.next = {win}")
    for flag in ("valid", "first", "last"):
        e.line(f"dout_{flag}.next = din_{flag}")
    return render("edge_replicate_logic", e, ports)()

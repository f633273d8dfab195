"""The ADAPTIVE hybrid in hardware: a network and a width-adaptive refinement behind the peak detector's ports.

As `workbench.hw.hybrid_top` (the network, its raw samples kept in step by `shadow`, the scores through the
front end's timing; `P` lanes, profiles back to back or with gaps), with a bank of refinements and the width
probe of `qnn-int/2`. The probe runs on every pixel in the stream, so that only its bin travels further:

1. front end: one `window` and `edge_replicate` of half `H` (the largest half of the bank and the probes: a
   smaller half's taps are the centre of the replicated window), one `adder_tree` of every member's
   derivative `d_m[k]` and the probes' `b4[k]`, `b10[k]` per lane (signed digits of the taps);
2. `window` of `(d_0 .. d_{M-1}, b4, b10, s)` for `reach` pixels each side (its zero padding never exceeds an
   in-profile `|b|`, so the maxima below are the contract's, over the profile only);
3. `probe_bins`, `probe_latency(reach)` registered stages per pixel: `|b|`; the sliding maxima over the
   `2 reach + 1` pixels as a registered doubling table (maxima of 2, 4, 8 pixels, shared by the lanes, then
   two overlapping ones); the products `e * wide` (shifted additions of the constant edges) beside
   `edge_scale * narrow`; the comparisons (a tie counts); the bin, their count (the edges ascend, so the
   flags that hold are the lowest ones). The centre's `(d_0 .. d_{M-1}, s)` travel beside it;
4. `window` of `(d_0 .. d_{M-1}, bin, s)` for `R_max` pixels each side and `member_select`: per lane the
   window of the member `choice[bin]` of the centre over `[-R_max, R_max]`, `-1` left of `-R_m` and `0` right
   of `R_m` (no crossing test `d[i] >= 0 > d[i+1]` passes there, so the search keeps the member's radius),
   with the centre's score as the key;
5. the crossing head (`crossing.crossing_head`, `gate="key"`, each lane's own window): at `P > 1` the lane
   tree, the running first arg-max carrying one window, C1-C3, the divider and the result.

`result_latency = latency + front end + window(reach) + probe_latency(reach) + window(R_max) + 1 + crossing
head`. The generator takes plain integers (taps, edges, choice): it never reaches the golden model.
"""
from __future__ import annotations

import functools
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from myhdl import Signal, block, intbv

from workbench.errors import ConfigError
from workbench.hw.adder_tree import SumSpec, Term, delay_flags
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC, check_arithmetic
from workbench.hw.br_top import MAX_FRAC_BITS, check_taps, derivative_range
from workbench.hw.codegen import Emitter, render
from workbench.hw.crossing import crossing_head, crossing_latency
from workbench.hw.csd import csd_digits
from workbench.hw.hybrid_top import front_end_latency, hybrid_front
from workbench.hw.interface import StreamDesign, port_signals
from workbench.hw.names import name_instances
from workbench.hw.stream import Fmt, Stream, field_offsets, new_stream, read_field
from workbench.hw.top import THRESHOLD_BITS, check_sizes, network_latency
from workbench.hw.window import window, window_latency, window_stream
from workbench.qnn.contract import Network, bit_width


@dataclass(frozen=True)
class WidthProbe:
    """The probe's taps (narrow, wide), its reach in px and the edges' scale (`qnn-int/2`'s fields)."""

    narrow: tuple[int, ...]
    wide: tuple[int, ...]
    reach: int
    edge_scale: int


@dataclass(frozen=True, kw_only=True)
class AdaptiveDesign(StreamDesign):
    """A generated adaptive hybrid: the interface plus the network, the bank, the probe and the settings."""

    network: Network
    bank: tuple[tuple[int, ...], ...]
    edges: tuple[int, ...]
    choice: tuple[int, ...]
    probe: WidthProbe
    pipeline_stages: int


def _half(taps: tuple[int, ...]) -> int:
    return (len(taps) - 1) // 2


def _doublings(span: int) -> int:
    """Levels of the doubling table whose maxima cover at most `span` pixels: `floor(log2 span)`."""
    return span.bit_length() - 1


def probe_latency(reach: int) -> int:
    """Registered stages of `probe_bins`: `|b|`, the doubling levels (and the overlapping pair unless `2 reach + 1`
    is a power of two), the products, the comparisons, the bin."""
    span = 2 * reach + 1
    return 1 + _doublings(span) + (span != 1 << _doublings(span)) + 3


def build_adaptive_top(network: Network, bank: tuple[tuple[int, ...], ...], frac_bits: int, edges: tuple[int, ...],
                       choice: tuple[int, ...], probe: WidthProbe, profile_length: int, lanes: int = 1,
                       pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
                       arithmetic: str = DEFAULT_ARITHMETIC) -> AdaptiveDesign:
    """Check the settings and describe the adaptive hybrid (ConfigError naming a bad value)."""
    bank = tuple(check_taps(taps) for taps in bank)
    if not bank:
        raise ConfigError("bank is empty; allowed: 1 or more refinements")
    if not isinstance(frac_bits, int) or not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise ConfigError(f"frac_bits {frac_bits!r} invalid; allowed an integer in 0..{MAX_FRAC_BITS}")
    if list(edges) != sorted(edges) or any(not isinstance(e, int) or e < 0 for e in edges):
        raise ConfigError(f"edges {edges!r} invalid; allowed ascending integers >= 0")
    if len(choice) != len(edges) + 1 or any(not 0 <= c < len(bank) for c in choice):
        raise ConfigError(f"choice {choice!r} invalid; allowed {len(edges) + 1} indices in 0..{len(bank) - 1}")
    check_sizes(lanes, profile_length, pipeline_stages, min_length=2)
    check_arithmetic(arithmetic)
    half = max(_half(taps) for taps in (*bank, probe.narrow, probe.wide))
    radius = max(_half(taps) + 1 for taps in bank)
    latency = network_latency(network, lanes, pipeline_stages, threshold_bits)
    result_latency = (latency + front_end_latency(half, lanes, pipeline_stages) + window_latency(probe.reach, lanes)
                      + probe_latency(probe.reach) + window_latency(radius, lanes) + 1
                      + crossing_latency(frac_bits, lanes))
    pos_bits = max(1, ((profile_length - 1) << frac_bits).bit_length())
    widths = {"s_tdata": lanes * network.input_bits, "m_score_tdata": lanes * bit_width(*network.score_range),
              "m_pos": pos_bits}
    factory = functools.partial(adaptive_detector, network=network, bank=bank, frac_bits=frac_bits, edges=tuple(edges),
                                choice=tuple(choice), probe=probe, lanes=lanes, profile_length=profile_length,
                                pipeline_stages=pipeline_stages, threshold_bits=threshold_bits, arithmetic=arithmetic)
    return AdaptiveDesign(name="adaptive_detector", lanes=lanes, profile_length=profile_length,
                          in_bits=network.input_bits, score_bits=bit_width(*network.score_range), pos_bits=pos_bits,
                          frac_bits=frac_bits, latency=latency, result_latency=result_latency,
                          make_signals=functools.partial(port_signals, widths), factory=factory, network=network,
                          bank=bank, edges=tuple(edges), choice=tuple(choice), probe=probe,
                          pipeline_stages=pipeline_stages)


def bank_sums(taps_list: tuple[tuple[int, ...], ...], half: int, in_bits: int, lanes: int) -> list[SumSpec]:
    """Per lane, each taps' derivative over the lane's replicated window of `2 half + 1` samples, centred."""
    sums = []
    for j in range(lanes):
        for taps in taps_list:
            start = j * (2 * half + 1) + half - _half(taps)
            terms = tuple(Term(start + k, shift, sign) for k, t in enumerate(taps) for shift, sign in csd_digits(t))
            sums.append(SumSpec(terms, 0, Fmt(*derivative_range(taps, in_bits))))
    return sums


@block
def adaptive_detector(clk: Any, rst: Any, s_tdata: Any, s_tvalid: Any, s_tuser: Any, s_tlast: Any,
                      m_score_tdata: Any, m_score_tvalid: Any, m_score_tuser: Any, m_score_tlast: Any,
                      m_found: Any, m_pos: Any, m_result_tvalid: Any, network: Network,
                      bank: tuple[tuple[int, ...], ...], frac_bits: int, edges: tuple[int, ...],
                      choice: tuple[int, ...], probe: WidthProbe, lanes: int, profile_length: int,
                      pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
                      arithmetic: str = DEFAULT_ARITHMETIC) -> Any:
    """The adaptive hybrid (module docstring); use `build_adaptive_top` to check the settings first."""
    taps_list = (*bank, probe.narrow, probe.wide)
    half = max(_half(taps) for taps in taps_list)
    radii = tuple(_half(taps) + 1 for taps in bank)
    sums = bank_sums(taps_list, half, network.input_bits, lanes)
    parts, names, probed = hybrid_front(clk, rst, (s_tdata, s_tvalid, s_tuser, s_tlast),
                                        (m_score_tdata, m_score_tvalid, m_score_tuser, m_score_tlast), network, lanes,
                                        half, sums, probe.reach, profile_length, pipeline_stages, threshold_bits,
                                        arithmetic)
    members = [s.out for s in sums[:len(bank)]]
    score = probed.fields[len(taps_list)]
    binned = new_stream([*members, Fmt(0, len(edges), raw=True), score] * lanes, lanes)
    pixels = window_stream(binned, max(radii))
    fmt = Fmt(min([-1] + [m.lo for m in members]), max([0] + [m.hi for m in members]))
    chosen = new_stream([fmt, score] * (lanes * (2 * max(radii) + 1)), lanes * (2 * max(radii) + 1))
    instances = [part() for part in parts]  # blocks are called in this body, as MyHDL wants
    instances += [probe_bins(clk, rst, probed, binned, len(bank), probe.reach, edges, probe.edge_scale),
                  window(clk, rst, binned, pixels, max(radii)),
                  member_select(clk, rst, pixels, chosen, radii, choice),
                  crossing_head(clk, rst, chosen, m_found, m_pos, m_result_tvalid, max(radii), lanes, profile_length,
                                frac_bits=frac_bits, threshold=network.head.threshold, gate="key", shared=False)]
    name_instances(instances, [*names, "probe", "bin_win", "member", "head"])
    return instances


@block
def probe_bins(clk: Any, rst: Any, win: Stream, out: Stream, members: int, reach: int, edges: tuple[int, ...],
               edge_scale: int) -> Any:
    """Per lane of `win` (the window of `reach` over `(d_0 .. d_{M-1}, b4, b10, s)`): the width bin of the
    centre pixel (module docstring, step 3) beside its `(d_0 .. d_{M-1}, s)`, `probe_latency(reach)` cycles
    later, driving `out`."""
    lanes, channels, span = out.lanes, win.channels, 2 * reach + 1
    stages = probe_latency(reach)
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": win.data, "dout": out.data}
    top = max(max(-win.fields[members + j].lo, win.fields[members + j].hi) for j in range(2))

    def register(name: str, width: int) -> str:
        ports[name] = Signal(intbv(0)[max(1, width):])
        return name

    # stage 1: |b| of every pixel of the window (one set shared by the lanes)
    level = []
    for j, probe in enumerate(("n", "w")):
        a = e.var(f"a{probe}", -top, top)
        row = []
        for q in range(lanes + 2 * reach):
            e.line(f"{a}[:] = {read_field('din', win.fields, q * channels + members + j)}")
            with e.indented(f"if {a} < 0:"):
                e.line(f"{a}[:] = -{a}")
            row.append(register(f"{probe}0_{q}", top.bit_length()))
            e.line(f"{row[-1]}.next = {a}")
        level.append(row)
    # the doubling table (level n's maximum at i covers pixels i .. i + 2^n - 1), then two overlapping ones
    levels = _doublings(span)
    cover = 1 << levels
    for j, probe in enumerate(("n", "w")):
        table = dict(enumerate(level[j]))
        for n in range(1, levels + 1):
            step = 1 << (n - 1)
            table = {i: _max_register(e, register, f"{probe}{n}_{i}", table[i], table[i + step], top)
                     for i in sorted(_needed(lanes, span, levels, n))}
        if span != cover:
            table = {i: _max_register(e, register, f"{probe}{levels + 1}_{i}", table[i], table[i + span - cover], top)
                     for i in range(lanes)}
        level[j] = [table[i] for i in range(lanes)]
    # products, comparisons (a tie counts), the bin: `e * wide` and `edge_scale * narrow` as shifted additions
    product_max = max([edge_scale, *edges]) * top
    bins = ["0"] * lanes  # one bin without edges
    if edges:
        value, product = e.var("value", -product_max, product_max), e.var("product", -product_max, product_max)
        holds = e.bits("holds", len(edges))
    for lane in range(lanes if edges else 0):
        scaled, flags = register(f"scaled_{lane}", product_max.bit_length()), register(f"flags_{lane}", len(edges))
        e.line(f"{value}[:] = {level[0][lane]}")
        e.line(f"{product}[:] = {_times(value, edge_scale)}")
        e.line(f"{scaled}.next = {product}")
        e.line(f"{holds}[:] = 0")
        for i, edge in enumerate(edges):
            scaled_edge = register(f"product_{lane}_{i}", product_max.bit_length())
            e.line(f"{value}[:] = {level[1][lane]}")
            e.line(f"{product}[:] = {_times(value, edge)}")
            e.line(f"{scaled_edge}.next = {product}")
            with e.indented(f"if {scaled} >= {scaled_edge}:"):
                e.line(f"{holds}[{i}] = 1")
        e.line(f"{flags}.next = {holds}")
        bins[lane] = e.bits(f"bin{lane}", len(edges).bit_length())
        e.line(f"{bins[lane]}[:] = 0")
        for b in range(1, len(edges) + 1):  # one past the highest flag that holds (they are the lowest ones)
            with e.indented(f"if {flags}[{b - 1}]:"):
                e.line(f"{bins[lane]}[:] = {b}")
    # the centre pixels' fields beside the probe, then packed with the bins
    offsets = field_offsets(win.fields)
    centre = f"din[{offsets[(reach + lanes) * channels]}:{offsets[reach * channels]}]"
    for stage in range(1, stages):
        ports[f"c{stage}"] = Signal(intbv(0)[offsets[(reach + lanes) * channels] - offsets[reach * channels]:])
        e.line(f"c{stage}.next = {centre}")
        centre = f"c{stage}"
    o, c = field_offsets(out.fields), field_offsets(win.fields[reach * channels:(reach + lanes) * channels])
    packed = e.bits("packed", o[-1])
    for lane in range(lanes):
        for k in range(members):
            field = lane * (members + 2) + k
            source = lane * channels + k
            e.line(f"{packed}[{o[field + 1]}:{o[field]}] = {centre}[{c[source + 1]}:{c[source]}]")
        field = lane * (members + 2) + members
        e.line(f"{packed}[{o[field + 1]}:{o[field]}] = {bins[lane]}")
        source = lane * channels + channels - 1
        e.line(f"{packed}[{o[field + 2]}:{o[field + 1]}] = {centre}[{c[source + 1]}:{c[source]}]")
    e.line(f"dout.next = {packed}")
    delay_flags(e, ports, win, out, stages)
    return render("probe_bins_logic", e, ports)()


def _needed(lanes: int, span: int, levels: int, n: int) -> set[int]:
    """Starts of the level-`n` maxima that the lanes' final maxima reach."""
    cover = 1 << levels
    starts = {i + k for i in range(lanes) for k in (0, span - cover)}
    for level in range(levels, n, -1):
        step = 1 << (level - 1)
        starts = {s + k for s in starts for k in (0, step)}
    return starts


def _max_register(e: Emitter, register: Any, name: str, left: str, right: str, top: int) -> str:
    """Emit the registered maximum of two registers (the left one on ties; equal values either way)."""
    target = register(name, top.bit_length())
    with e.indented(f"if {right} > {left}:"):
        e.line(f"{target}.next = {right}")
    with e.indented("else:"):
        e.line(f"{target}.next = {left}")
    return target


@block
def member_select(clk: Any, rst: Any, win: Stream, out: Stream, radii: tuple[int, ...],
                  choice: tuple[int, ...]) -> Any:
    """Per lane of `win` (the window of `R_max` over `(d_0 .. d_{M-1}, bin, s)`): the window over `[-R_max, R_max]`
    of the member `choice[bin]` of the centre (`-1` left of its radius, `0` right of it) and the centre's score
    as the key (0 elsewhere), each lane's `2 R_max + 1` pixels in turn, one register."""
    members, channels, widest = len(radii), win.channels, max(radii)
    lanes = win.lanes - 2 * widest
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": win.data, "dout": out.data}
    o = field_offsets(out.fields)
    packed = e.bits("packed", o[-1])
    e.line(f"{packed}[:] = 0")
    value = e.var("value", out.fields[0].lo, out.fields[0].hi)
    key = e.var("key", out.fields[1].lo, out.fields[1].hi)
    for lane in range(lanes):
        centre = (lane + widest) * channels
        b = e.var(f"b{lane}", 0, len(choice))
        e.line(f"{b}[:] = {read_field('din', win.fields, centre + members)}")
        base = lane * (2 * widest + 1) * 2  # pixel k's derivative is field base + 2 k, its key the next
        used = sorted(set(choice))
        for n, member in enumerate(used):
            test = " or ".join(f"{b} == {i}" for i, c in enumerate(choice) if c == member)
            header = "else:" if n == len(used) - 1 else f"{'if' if n == 0 else 'elif'} {test}:"
            with e.indented(header) if len(used) > 1 else nullcontext():
                for k in range(2 * widest + 1):
                    offset = k - widest
                    if abs(offset) <= radii[member]:
                        source = read_field('din', win.fields, centre + offset * channels + member)
                    else:
                        source = "-1" if offset < 0 else "0"
                    e.line(f"{value}[:] = {source}")
                    d = base + 2 * k
                    e.line(f"{packed}[{o[d + 1]}:{o[d]}] = {value}[{o[d + 1] - o[d]}:]")
        e.line(f"{key}[:] = {read_field('din', win.fields, centre + channels - 1)}")
        k = base + 2 * widest + 1
        e.line(f"{packed}[{o[k + 1]}:{o[k]}] = {key}[{o[k + 1] - o[k]}:]")
    e.line(f"dout.next = {packed}")
    delay_flags(e, ports, win, out, 1)
    return render("member_select_logic", e, ports)()


def _times(var: str, constant: int) -> str:
    """`var * constant` as shifted additions of the constant's signed digits (0 for 0)."""
    digits = csd_digits(constant)
    if not digits:
        return "0"
    terms = [("+ " if sign > 0 else "- ") + (f"({var} << {shift})" if shift else var) for shift, sign in digits]
    first = terms[0][2:] if terms[0].startswith("+") else f"-{terms[0][2:]}"
    return " ".join([first, *terms[1:]])

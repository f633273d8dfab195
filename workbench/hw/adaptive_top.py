"""The ADAPTIVE hybrid in hardware (one lane): a network and a width-adaptive refinement behind the peak detector's ports.

As `workbench.hw.hybrid_top` (the network, its raw samples kept in step by `shadow`, the scores through the
front end's timing), with a bank of refinements and the width probe of `qnn-int/2`:

1. front end: one `window` and `edge_replicate` of half `H` (the largest half of the bank and the probes: a
   smaller half's taps are the centre of the replicated window), one `adder_tree` of every member's
   derivative `d_m[k]` and the probes' `b4[k]`, `b10[k]` (signed digits of the taps);
2. `window` of `(d_0 .. d_{M-1}, b4, b10, s)` for `W = max(R_max, reach)` pixels each side (its zero padding
   never exceeds an in-profile `|b|`, so the probe's maxima are the contract's, over the profile only);
3. `adaptive_argmax`: the first arg-max of `s`, carrying each member's `d_m[p-R_m .. p+R_m]` and the
   probes' `b[p-reach .. p+reach]`;
4. `adaptive_select`, two registered stages: S1 `narrow = max |b4|`, `wide = max |b10|` (balanced trees);
   S2 the bin `#{e : edge_scale * narrow >= e * wide}` (shift-and-add of the constant edges; they ascend, so
   the bin is one past the highest comparison that holds), the member `choice[bin]`, and its window over `[-R_max, R_max]` with `-1` left of `-R_m` and `0` right of `R_m`,
   which no crossing test `d[i] >= 0 > d[i+1]` can pass, so the search stays within the member's radius;
5. the crossing head's stages (`crossing.crossing_select` gated on the key, the `divider`,
   `head.divided_result`).

The generator takes plain integers (taps, edges, choice): it never reaches the golden model.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from myhdl import Signal, block, intbv

from workbench.errors import ConfigError
from workbench.hw.adder_tree import SumSpec, Term
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC, check_arithmetic
from workbench.hw.br_top import MAX_FRAC_BITS, check_taps, derivative_range
from workbench.hw.codegen import Emitter, render, signed_bounds
from workbench.hw.crossing import crossing_select, emit_first_argmax
from workbench.hw.csd import csd_digits
from workbench.hw.divider import divider, divider_latency
from workbench.hw.head import TAG_P, divided_result
from workbench.hw.hybrid_top import front_end_latency, hybrid_front
from workbench.hw.interface import StreamDesign, port_signals
from workbench.hw.names import name_instances
from workbench.hw.stream import Fmt, Stream, read_field
from workbench.hw.top import THRESHOLD_BITS, check_sizes, network_latency
from workbench.hw.window import window_latency
from workbench.qnn.contract import Network, bit_width

SELECT_STAGES = 2


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


def build_adaptive_top(network: Network, bank: tuple[tuple[int, ...], ...], frac_bits: int, edges: tuple[int, ...],
                       choice: tuple[int, ...], probe: WidthProbe, profile_length: int, lanes: int = 1,
                       pipeline_stages: int = 1, threshold_bits: int = THRESHOLD_BITS,
                       arithmetic: str = DEFAULT_ARITHMETIC) -> AdaptiveDesign:
    """Check the settings and describe the adaptive hybrid (ConfigError naming a bad value)."""
    if lanes != 1:
        raise ConfigError(f"lanes is {lanes!r}; allowed: 1 (the adaptive hybrid is built for one lane)")
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
    reach = max(max(_half(taps) + 1 for taps in bank), probe.reach)
    latency = network_latency(network, lanes, pipeline_stages, threshold_bits)
    result_latency = (latency + front_end_latency(half, lanes, pipeline_stages) + window_latency(reach, lanes)
                      + 1 + SELECT_STAGES + 3 + divider_latency(1 << frac_bits) + 2)
    pos_bits = max(1, ((profile_length - 1) << frac_bits).bit_length())
    widths = {"s_tdata": network.input_bits, "m_score_tdata": bit_width(*network.score_range), "m_pos": pos_bits}
    factory = functools.partial(adaptive_detector, network=network, bank=bank, frac_bits=frac_bits, edges=tuple(edges),
                                choice=tuple(choice), probe=probe, profile_length=profile_length,
                                pipeline_stages=pipeline_stages, threshold_bits=threshold_bits, arithmetic=arithmetic)
    return AdaptiveDesign(name="adaptive_detector", lanes=1, profile_length=profile_length, in_bits=network.input_bits,
                          score_bits=widths["m_score_tdata"], pos_bits=pos_bits, frac_bits=frac_bits, latency=latency,
                          result_latency=result_latency, make_signals=functools.partial(port_signals, widths),
                          factory=factory, network=network, bank=bank, edges=tuple(edges), choice=tuple(choice),
                          probe=probe, pipeline_stages=pipeline_stages)


def bank_sums(taps_list: tuple[tuple[int, ...], ...], half: int, in_bits: int) -> list[SumSpec]:
    """Each taps' derivative over a replicated window of `2 half + 1` samples, centred."""
    sums = []
    for taps in taps_list:
        start = half - _half(taps)
        terms = tuple(Term(start + k, shift, sign) for k, t in enumerate(taps) for shift, sign in csd_digits(t))
        sums.append(SumSpec(terms, 0, Fmt(*derivative_range(taps, in_bits))))
    return sums


@block
def adaptive_detector(clk: Any, rst: Any, s_tdata: Any, s_tvalid: Any, s_tuser: Any, s_tlast: Any,
                      m_score_tdata: Any, m_score_tvalid: Any, m_score_tuser: Any, m_score_tlast: Any,
                      m_found: Any, m_pos: Any, m_result_tvalid: Any, network: Network,
                      bank: tuple[tuple[int, ...], ...], frac_bits: int, edges: tuple[int, ...],
                      choice: tuple[int, ...], probe: WidthProbe, profile_length: int, pipeline_stages: int = 1,
                      threshold_bits: int = THRESHOLD_BITS, arithmetic: str = DEFAULT_ARITHMETIC) -> Any:
    """The adaptive hybrid (module docstring); use `build_adaptive_top` to check the settings first."""
    taps_list = (*bank, probe.narrow, probe.wide)
    half = max(_half(taps) for taps in taps_list)
    radii = tuple(_half(taps) + 1 for taps in bank)
    reach = max(max(radii), probe.reach)
    sums = bank_sums(taps_list, half, network.input_bits)
    parts, names, pixels = hybrid_front(clk, rst, (s_tdata, s_tvalid, s_tuser, s_tlast),
                                        (m_score_tdata, m_score_tvalid, m_score_tuser, m_score_tlast), network, 1,
                                        half, sums, reach, profile_length, pipeline_stages, threshold_bits, arithmetic)
    score_field = pixels.fields[len(sums)]
    fmt = Fmt(min([-1] + [s.out.lo for s in sums[:len(bank)]]), max([0] + [s.out.hi for s in sums[:len(bank)]]))
    index_bits = max(1, (profile_length - 1).bit_length())
    best = {name: Signal(intbv(0)[index_bits:]) if name == "p" else Signal(bool(0)) for name in ("p", "valid")}
    peak_key = _reg(score_field)  # (a name of its own: the converter names the signal after it)
    member_regs = [[_reg(sums[m].out) for _ in range(2 * radii[m] + 1)] for m in range(len(bank))]
    probe_regs = [[_reg(sums[len(bank) + j].out) for _ in range(2 * probe.reach + 1)] for j in range(2)]
    sel = [_reg(fmt) for _ in range(2 * max(radii) + 1)]
    sel_p, sel_valid = Signal(intbv(0)[index_bits:]), Signal(bool(0))
    sel_key = Signal(intbv(0, min=peak_key.min, max=peak_key.max))
    slope_max = fmt.hi - fmt.lo
    x_max, y_max = (fmt.hi << (frac_bits + 1)) + slope_max, 2 * slope_max
    x, y = _reg(Fmt(0, x_max)), _reg(Fmt(0, y_max))
    tag, q_tag = (Signal(intbv(0)[TAG_P + index_bits:]) for _ in range(2))
    div_valid, q_valid = Signal(bool(0)), Signal(bool(0))
    q = Signal(intbv(0)[((1 << frac_bits).bit_length()):])
    instances = []
    for part in parts:  # blocks are called in this body, as MyHDL wants
        instances.append(part())
    instances += [
                  adaptive_argmax(clk, rst, pixels, member_regs, probe_regs, peak_key, best["p"], best["valid"], radii,
                                  probe.reach, reach, profile_length),
                  adaptive_select(clk, rst, member_regs, probe_regs, peak_key, best["p"], best["valid"], sel, sel_key, sel_p,
                                  sel_valid, radii, edges, choice, probe.edge_scale),
                  crossing_select(clk, rst, sel, sel_p, sel_valid, x, y, tag, div_valid, max(radii), profile_length,
                                  frac_bits, network.head.threshold, slope_max, sel_key),
                  divider(clk, rst, x, y, tag, div_valid, q, q_tag, q_valid, x_max, y_max, 1 << frac_bits),
                  divided_result(clk, rst, q, q_tag, q_valid, m_found, m_pos, m_result_tvalid, frac_bits,
                                 1 << frac_bits)]
    names += ["amax", "probe", "sel", "div", "res"]
    name_instances(instances, names)
    return instances


def _reg(fmt: Fmt) -> Any:
    vmin, vmax = signed_bounds(fmt.lo, fmt.hi)
    return Signal(intbv(0, min=vmin, max=vmax))


@block
def adaptive_argmax(clk: Any, rst: Any, win: Stream, member_regs: list, probe_regs: list, best_key: Any, best_p: Any,
                    best_valid: Any, radii: tuple[int, ...], probe_reach: int, reach: int, profile_length: int) -> Any:
    """The first arg-max of the centre's score (the last field), holding every member's and probe's window."""
    channels = win.channels
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": win.data, "din_valid": win.valid, "din_first": win.first,
                             "din_last": win.last, "best_key": best_key, "best_p": best_p, "best_valid": best_valid,
                             "base": Signal(intbv(0)[len(best_p):])}
    key_field = win.fields[channels - 1]
    key = e.var("key", key_field.lo, key_field.hi)
    start = e.var("start", 0, profile_length)
    windows = [(f"m{m}", m, radii[m], regs) for m, regs in enumerate(member_regs)]
    windows += [(f"b{j}", len(radii) + j, probe_reach, regs) for j, regs in enumerate(probe_regs)]
    payload = []
    for name, field, radius, regs in windows:
        for k, reg in enumerate(regs):
            ports[f"{name}_{k}"] = reg
            payload.append((f"{name}_{k}", read_field('din', win.fields, (reach + k - radius) * channels + field)))
    emit_first_argmax(e, start, 1, len(best_p), key, read_field('din', win.fields, reach * channels + channels - 1),
                      payload)
    return render("adaptive_argmax_logic", e, ports)()


@block
def adaptive_select(clk: Any, rst: Any, member_regs: list, probe_regs: list, key: Any, best_p: Any, best_valid: Any,
                    sel: list, sel_key: Any, sel_p: Any, sel_valid: Any, radii: tuple[int, ...], edges: tuple[int, ...],
                    choice: tuple[int, ...], edge_scale: int) -> Any:
    """S1: the probe's maxima; S2: the width bin, its member and the member's window over `[-R_max, R_max]`."""
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "key": key, "best_p": best_p, "best_valid": best_valid,
                             "sel_key": sel_key, "sel_p": sel_p, "sel_valid": sel_valid}
    top = max(max(int(r.max) for r in regs) for regs in probe_regs)
    maxima = []
    for j, regs in enumerate(probe_regs):  # S1: |b| side by side, then a balanced tree of maxima
        level = []
        for k, reg in enumerate(regs):
            ports[f"b{j}_{k}"] = reg
            v = e.var(f"a{j}_{k}", -top, top)
            e.line(f"{v}[:] = b{j}_{k}")
            with e.indented(f"if {v} < 0:"):
                e.line(f"{v}[:] = -{v}")
            level.append(v)
        depth = 0
        while len(level) > 1:
            depth += 1
            pairs, level = [level[i:i + 2] for i in range(0, len(level), 2)], []
            for n, pair in enumerate(pairs):
                if len(pair) == 1:
                    level.append(pair[0])
                    continue
                t = e.var(f"t{j}_{depth}_{n}", -top, top)
                with e.indented(f"if {pair[1]} > {pair[0]}:"):
                    e.line(f"{t}[:] = {pair[1]}")
                with e.indented("else:"):
                    e.line(f"{t}[:] = {pair[0]}")
                level.append(t)
        ports[f"s1_max{j}"] = Signal(intbv(0)[max(1, top.bit_length()):])
        e.line(f"s1_max{j}.next = {level[0]}")
        maxima.append(f"s1_max{j}")
    for m, regs in enumerate(member_regs):
        for k, reg in enumerate(regs):
            ports[f"m{m}_{k}"] = reg
            ports[f"s1_m{m}_{k}"] = Signal(intbv(0, min=reg.min, max=reg.max))
            e.line(f"s1_m{m}_{k}.next = m{m}_{k}")
    for name, source in (("key", key), ("p", best_p), ("valid", best_valid)):
        ports[f"s1_{name}"] = Signal(intbv(0, min=source.min, max=source.max)) if name == "key" else \
            (Signal(intbv(0)[len(best_p):]) if name == "p" else Signal(bool(0)))
        e.line(f"s1_{name}.next = {'best_' + name if name != 'key' else 'key'}")
    # S2: the edges' comparisons side by side (`e wide` shifted additions of the constant); edges ascend and
    # wide >= 0, so the comparisons that hold are the lowest ones and the bin is one past the highest
    product_max = max([edge_scale * top] + [e_ * top for e_ in edges])
    narrow, wide = e.var("narrow", -product_max, product_max), e.var("wide", -product_max, product_max)
    e.line(f"{narrow}[:] = {maxima[0]}")
    e.line(f"{narrow}[:] = " + _times(narrow, edge_scale))
    e.line(f"{wide}[:] = {maxima[1]}")
    flags = []
    for i, edge in enumerate(edges):
        scaled = e.var(f"scaled{i}", -product_max, product_max)
        e.line(f"{scaled}[:] = " + _times(wide, edge))
        flags.append(f"{narrow} >= {scaled}")
    widest = max(radii)
    for b in reversed(range(len(choice))):  # bin b: flag b - 1 holds (the highest that does), bin 0 when none
        first = b == len(choice) - 1
        header = "else:" if b == 0 else f"{'if' if first else 'elif'} {flags[b - 1]}:"
        with e.indented(header if len(choice) > 1 else "if True:"):
            member, radius = choice[b], radii[choice[b]]
            for k in range(2 * widest + 1):
                offset = k - widest
                value = f"s1_m{member}_{offset + radius}" if abs(offset) <= radius else ("-1" if offset < 0 else "0")
                e.line(f"sel{k}.next = {value}")
    for k, reg in enumerate(sel):
        ports[f"sel{k}"] = reg
    for name in ("key", "p", "valid"):
        e.line(f"sel_{name}.next = s1_{name}")
    return render("adaptive_select_logic", e, ports)()


def _times(var: str, constant: int) -> str:
    """`var * constant` as shifted additions of the constant's signed digits (0 for 0)."""
    digits = csd_digits(constant)
    if not digits:
        return "0"
    terms = [("+ " if sign > 0 else "- ") + (f"({var} << {shift})" if shift else var) for shift, sign in digits]
    first = terms[0][2:] if terms[0].startswith("+") else f"-{terms[0][2:]}"
    return " ".join([first, *terms[1:]])

"""The zero-crossing head: `(found, pos)` per profile from a window of the derivative around the arg-max.

Its input is a window stream (`workbench.hw.window`, one lane) of `2R + 1` pixels with two fields
each, the derivative `d` and the key `k` whose first arg-max is the peak `p` (the raw sample for the
classical detector; a network's score would do for the hybrid). Stages, each one register:

1. running arg-max over the centre pixels (strictly greater replaces, `first` restarts, so the first
   index wins), with the whole derivative window `d[p - R .. p + R]` as the candidate's payload:
   when `valid` and `last` leave the stage, its registers hold the profile's best;
2. C1: the `2R` crossing flags `d[i] >= 0 > d[i+1]` for `i - p` in `[-R, R - 1]`, each only where
   `0 <= i <= L - 2` (the window's zero padding cannot fake a crossing);
3. C2: the flag nearest `p` by priority (offsets -1, 0, -2, 1, ...: the left one on equal
   distance), its `a = d[i]` and the slope `s = a - d[i+1]` (0 and not found when no flag is set);
4. C3: `found = s >= threshold` (0 when no crossing; with `gate="key"` the hybrid's rule instead,
   `found = k[p] >= threshold` on the peak's key whether or not a crossing is in reach), the divider's operands `x = 2a 2^F + s`,
   `y = 2s` (so `floor(x / y)` is the contract's `rdiv(a, s, F)`, `a >= 0`) and the index `i` (or
   `p`) in the tag;
5. the pipelined `divider`, then `pos = i 2^F + q` (`p 2^F` without a crossing, 0 when not found),
   the head's own `divided_result`.

`crossing_latency` cycles separate the window's last centre beat and the result.
"""
from __future__ import annotations

from typing import Any

from myhdl import Signal, block, intbv

from workbench.hw.codegen import Emitter, beat_start, render, signed_bounds
from workbench.hw.divider import divider, divider_latency
from workbench.hw.head import TAG_FOUND, TAG_P, TAG_ZERO, argmax_tree, divided_result, tree_latency, tree_levels
from workbench.hw.stream import Fmt, Stream, new_stream, read_field

DERIVATIVE, KEY = 0, 1  # the two fields of every window pixel


def crossing_latency(frac_bits: int, lanes: int = 1) -> int:
    """Cycles from the window's last centre beat to the result: lane select (P > 1), arg-max, C1-C3,
    divider, two result stages."""
    return (tree_latency(lanes) if lanes > 1 else 0) + 1 + 3 + divider_latency(1 << frac_bits) + 2


def crossing_order(radius: int) -> list[int]:
    """Offsets `i - p` in priority order: nearest the peak first, the left one on equal distance."""
    return sorted(range(-radius, radius), key=lambda o: (abs(2 * o + 1), o))


def _signal(lo: int, hi: int) -> Any:
    vmin, vmax = signed_bounds(lo, hi)
    return Signal(intbv(0, min=vmin, max=vmax))


GATES = ("slope", "key")  # what `found` compares with the threshold: the crossing's slope, or the peak's key


@block
def crossing_head(clk: Any, rst: Any, win: Stream, found: Any, pos: Any, result_valid: Any, radius: int, lanes: int,
                  profile_length: int, frac_bits: int, threshold: int, gate: str = "slope", shared: bool = True) -> Any:
    """The head over `win` (module docstring), driving `found`, `pos` and `result_valid`. `shared`: `win` is one
    window of `lanes + 2R` pixels whose lane `j` is pixels `j .. j + 2R`; else each lane's own `2R + 1` pixels
    in turn (lane `j` the pixels `j (2R + 1) ..`; the adaptive hybrid's, whose lanes choose their members)."""
    pixels = lanes + 2 * radius if shared else lanes * (2 * radius + 1)
    if win.lanes != pixels or win.channels != 2:
        raise ValueError(f"the crossing head needs a window of {pixels} pixels with 2 fields each")
    if gate not in GATES:
        raise ValueError(f"gate {gate!r} invalid; allowed {list(GATES)}")
    fmt = win.fields[DERIVATIVE]
    slope_max = fmt.hi - fmt.lo
    x_max, y_max = (fmt.hi << (frac_bits + 1)) + slope_max, 2 * slope_max
    index_bits = max(1, (profile_length - 1).bit_length())
    best = [_signal(fmt.lo, fmt.hi) for _ in range(2 * radius + 1)]
    best_p = Signal(intbv(0)[index_bits:])
    best_valid = Signal(bool(0))
    x, y = _signal(0, x_max), _signal(0, y_max)
    tag, q_tag = (Signal(intbv(0)[TAG_P + index_bits:]) for _ in range(2))
    div_valid, q_valid = Signal(bool(0)), Signal(bool(0))
    qmax = 1 << frac_bits
    q = Signal(intbv(0)[qmax.bit_length():])
    instances = []
    if lanes > 1:
        chosen = new_stream([*win.fields[:2 * (2 * radius + 1)], Fmt(0, lanes - 1)], 1)
        half, channels = (radius, 2) if shared else (0, 2 * (2 * radius + 1))  # a lane's candidate: one step
        instances.append(argmax_tree(clk, rst, win, chosen, lanes, half, tree_levels(lanes), channels,
                                     2 * radius + KEY))
        win = chosen
    key = _signal(win.fields[KEY].lo, win.fields[KEY].hi) if gate == "key" else None
    return (*instances, crossing_argmax(clk, rst, win, best, best_p, best_valid, radius, lanes, profile_length, key),
            crossing_select(clk, rst, best, best_p, best_valid, x, y, tag, div_valid, radius, profile_length,
                            frac_bits, threshold, slope_max, key),
            divider(clk, rst, x, y, tag, div_valid, q, q_tag, q_valid, x_max, y_max, qmax),
            divided_result(clk, rst, q, q_tag, q_valid, found, pos, result_valid, frac_bits, qmax))


@block
def crossing_argmax(clk: Any, rst: Any, win: Stream, best: list, best_p: Any, best_valid: Any,
                    radius: int, lanes: int, profile_length: int, best_key: Any = None) -> Any:
    """Stage 1: the first arg-max of the centre's key, holding its derivative window and index (at `P > 1`
    lanes `win` is the lane select's, `2R + 1` pixels and the lane); the best key in `best_key` when given."""
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": win.data, "din_valid": win.valid,
                             "din_first": win.first, "din_last": win.last, "best_p": best_p,
                             "best_valid": best_valid}
    ports.update({f"best{k}": best[k] for k in range(len(best))})
    key_field = win.fields[KEY]
    ports["best_key"] = _signal(key_field.lo, key_field.hi) if best_key is None else best_key
    ports["base"] = Signal(intbv(0)[len(best_p):])
    key = e.var("key", key_field.lo, key_field.hi)
    start = e.var("start", 0, profile_length)
    index = e.var("index", 0, profile_length + lanes)
    centre = 2 * radius + KEY  # the centre pixel's key field
    lane = f" + {read_field('din', win.fields, 2 * (2 * radius + 1))}" if lanes > 1 else ""
    payload = [(f"best{k}", read_field('din', win.fields, 2 * k + DERIVATIVE)) for k in range(len(best))]
    emit_first_argmax(e, start, lanes, len(best_p), key, read_field('din', win.fields, centre), payload, (index, lane))
    return render("crossing_argmax_logic", e, ports)()


def emit_first_argmax(e: Emitter, start: str, lanes: int, p_bits: int, key: str, key_source: str,
                      payload: list[tuple[str, str]], index: tuple[str, str] | None = None) -> None:
    """Emit a running first arg-max over valid beats (strictly greater replaces, `din_first` restarts): the
    registers `best_key`, `best_p` (`p_bits` wide) and each `(register, source)` of `payload` take the beat's
    values; `best_valid` marks the cycle after the profile's last beat. `index` (a variable and the lane's
    expression) counts the pixel when given; else the beat's first pixel is `p`."""
    with e.indented("if din_valid:"):
        beat_start(e, start, lanes, p_bits)
        position = start
        if index is not None:
            e.line(f"{index[0]}[:] = {start}{index[1]}")
            position = index[0]
        e.line(f"{key}[:] = {key_source}")
        with e.indented(f"if din_first or {key} > best_key:"):
            e.line(f"best_key.next = {key}")
            e.line(f"best_p.next = {position}[{p_bits}:]")
            for register, source in payload:
                e.line(f"{register}.next = {source}")
        e.line("best_valid.next = din_last")
    with e.indented("else:"):
        e.line("best_valid.next = 0")


@block
def crossing_select(clk: Any, rst: Any, best: list, best_p: Any, best_valid: Any, x: Any, y: Any, tag: Any,
                    valid: Any, radius: int, profile_length: int, frac_bits: int, threshold: int,
                    slope_max: int, best_key: Any = None) -> Any:
    """Stages C1-C3: crossing flags, the nearest one's `a` and slope, the divider's operands and tag;
    `found` from the slope, or from `best_key` (the peak's key) when given."""
    e = Emitter()
    width = len(best)
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "best_p": best_p, "best_valid": best_valid, "x": x, "y": y,
                             "tag": tag, "valid": valid}
    ports.update({f"best{k}": best[k] for k in range(width)})
    lo, hi = int(best[0].min), int(best[0].max) - 1
    index_bits = len(best_p)
    for name in ("c1", "c2"):
        ports[f"{name}_p"] = Signal(intbv(0)[index_bits:])
        ports[f"{name}_valid"] = Signal(bool(0))
    ports.update({f"c1_d{k}": _signal(lo, hi) for k in range(width)})
    ports["c1_cr"] = Signal(intbv(0)[2 * radius:])
    # C1: the flags (bit o + R for offset o)
    flags = e.bits("flags", 2 * radius)
    for o in range(-radius, radius):
        inside = [f"best_p >= {-o}"] if o < 0 else []
        inside += [f"best_p <= {profile_length - 2 - o}"] if o >= 0 else []
        test = " and ".join([f"best{o + radius} >= 0", f"best{o + radius + 1} < 0", *inside])
        with e.indented(f"if {test}:"):
            e.line(f"{flags}[{o + radius}] = 1")
        with e.indented("else:"):
            e.line(f"{flags}[{o + radius}] = 0")
    e.line(f"c1_cr.next = {flags}")
    for k in range(width):
        e.line(f"c1_d{k}.next = best{k}")
    e.line("c1_p.next = best_p")
    e.line("c1_valid.next = best_valid")
    if best_key is not None:  # the key travels with the window to C3
        ports["best_key"] = best_key
        key_lo, key_hi = int(best_key.min), int(best_key.max) - 1
        ports["c1_key"], ports["c2_key"] = _signal(key_lo, key_hi), _signal(key_lo, key_hi)
        e.line("c1_key.next = best_key")
        e.line("c2_key.next = c1_key")
    # C2: the nearest flag by priority, its a and slope
    ports["c2_a"], ports["c2_s"] = _signal(0, hi), _signal(0, slope_max)
    ports["c2_off"], ports["c2_has"] = _signal(-radius, radius), Signal(bool(0))
    a, s, off = e.var("a", lo, hi), e.var("s", 2 * lo, 2 * hi), e.var("off", -radius, radius)
    for n, o in enumerate(crossing_order(radius)):
        with e.indented(f"{'if' if n == 0 else 'elif'} c1_cr[{o + radius}]:"):
            e.line(f"{a}[:] = c1_d{o + radius}")
            e.line(f"{s}[:] = c1_d{o + radius} - c1_d{o + radius + 1}")
            e.line(f"{off}[:] = {o}")
            e.line("c2_has.next = 1")
    with e.indented("else:"):
        for var in (a, s, off):
            e.line(f"{var}[:] = 0")
        e.line("c2_has.next = 0")
    e.line(f"c2_a.next = {a}")
    e.line(f"c2_s.next = {s}")
    e.line(f"c2_off.next = {off}")
    e.line("c2_p.next = c1_p")
    e.line("c2_valid.next = c1_valid")
    # C3: found, the divider's operands and the tag (found, no crossing, index)
    xv = e.var("xv", 0, int(x.max) - 1)
    base = e.var("base", -radius, profile_length + radius)
    pk = e.bits("pk", len(tag))
    e.line(f"{pk}[:] = 0")
    if best_key is None:
        _found_bit(e, pk, threshold, slope_max)
    else:
        _key_found_bit(e, pk, threshold, key_lo, key_hi)
    with e.indented("if not c2_has:"):
        e.line(f"{pk}[{TAG_ZERO}] = 1")
    e.line(f"{base}[:] = c2_p")
    e.line(f"{base}[:] = {base} + c2_off")
    e.line(f"{pk}[{len(tag)}:{TAG_P}] = {base}[{index_bits}:]")
    e.line(f"{xv}[:] = c2_a")
    e.line(f"{xv}[:] = ({xv} << {frac_bits + 1}) + c2_s")
    e.line(f"x.next = {xv}")
    e.line(f"{xv}[:] = c2_s")
    e.line(f"y.next = {xv} << 1")
    e.line(f"tag.next = {pk}")
    e.line("valid.next = c2_valid")
    return render("crossing_select_logic", e, ports)()


def _found_bit(e: Emitter, pk: str, threshold: int, slope_max: int) -> None:
    """`found = slope >= threshold`, the slope 0 without a crossing; folded where the range decides it."""
    if threshold <= 0:  # every slope, and the 0 of no crossing, passes
        e.line(f"{pk}[{TAG_FOUND}] = 1")
    elif threshold <= 1:  # every crossing passes (a slope is at least 1)
        e.line(f"{pk}[{TAG_FOUND}] = c2_has")
    elif threshold <= slope_max:
        with e.indented(f"if c2_has and c2_s >= {e.const(threshold, 0, slope_max)}:"):
            e.line(f"{pk}[{TAG_FOUND}] = 1")


def _key_found_bit(e: Emitter, pk: str, threshold: int, lo: int, hi: int) -> None:
    """`found = key >= threshold` on the peak's key (the hybrid's rule), folded where the range decides it."""
    if threshold <= lo:
        e.line(f"{pk}[{TAG_FOUND}] = 1")
    elif threshold <= hi:
        with e.indented(f"if c2_key >= {e.const(threshold, lo, hi)}:"):
            e.line(f"{pk}[{TAG_FOUND}] = 1")

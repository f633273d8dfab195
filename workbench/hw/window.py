"""The sliding window of a `k`-tap layer: `P + k - 1` pixels around each beat, zero padded at profile edges.

The shift register advances one beat per valid input beat; it keeps the `P + k - 1` pixels the `P`
output lanes need (the low part of the register, oldest pixel at bit 0) behind the delay line of
`A = ceil(h / P)` look-ahead beats (`h = (k - 1) / 2`). Output lane `j`'s taps are window pixels
`j .. j + 2h`, so the window is the same for every lane, shifted by one pixel per lane.

Padding: each beat's `valid/first/last` flags travel along a flag register; a window pixel `d` beats
after the centre beat is kept only when no beat from the centre up to it ends a profile, and one `d`
beats before only when none from the centre back to it starts one; otherwise it reads as zero.

Flushing: after the last beat of a profile the register also advances without input (inserting an
empty beat) while a beat of that profile still waits for its look-ahead, so a profile's last outputs
never wait for the next profile. `first`/`last` only matter on valid beats: an empty beat is only
ever inserted after a `last`, which already cuts every window reaching it. With `valid` held high the output follows the input by exactly
`A + 1` cycles.
"""
from __future__ import annotations

from typing import Any

from myhdl import Signal, block, intbv

from workbench.hw.codegen import Emitter, render
from workbench.hw.stream import Stream, field_offsets, new_stream


def lookahead_beats(half: int, lanes: int) -> int:
    """Beats `A` the window waits for after a beat before its outputs are complete."""
    return -(-half // lanes)


def window_latency(half: int, lanes: int) -> int:
    """Cycles from a beat entering to its window leaving, with `valid` held high."""
    return lookahead_beats(half, lanes) + 1


def window_stream(inp: Stream, half: int) -> Stream:
    """Fresh signals for the window of `inp`: `lanes + 2 * half` pixels with `inp`'s channel formats."""
    span = inp.lanes + 2 * half
    return new_stream(inp.fields[:inp.channels] * span, span)


@block
def window(clk: Any, rst: Any, inp: Stream, out: Stream, half: int, flags: bool = True) -> Any:
    """The window over `inp` for taps `-half .. +half`, driving `out` (see `window_stream`) with the
    masked window and, with `flags`, the flags of the centre beat."""
    if half < 1:
        raise ValueError("a window needs half >= 1")
    lanes, channels = inp.lanes, inp.channels
    ahead = lookahead_beats(half, lanes)
    beats = 2 * ahead + 1  # flags kept per beat, ages 0 (newest) .. 2A
    pixel_fields = inp.fields[:channels]
    keep_pixels = ahead * lanes + lanes + half
    span = lanes + 2 * half
    keep_fields = pixel_fields * keep_pixels
    beat_bits = field_offsets(inp.fields)[-1]
    keep_bits = field_offsets(keep_fields)[-1]
    pixel_bits = field_offsets(pixel_fields)[-1]

    e = Emitter()
    sr_next = e.bits("sr_n", keep_bits)
    win = e.bits("win", span * pixel_bits)
    with e.indented(f"if din_valid or (fv[{ahead}:0] != 0 and (not fv[0] or fl[0])):"):
        e.line(f"{sr_next}[:] = concat(din, sr[{keep_bits}:{beat_bits}])")
        e.line("sr.next = sr_n")
        for flag, source in (("fv", "din_valid"), ("ff", "din_first"), ("fl", "din_last")):
            shifted = f"concat({flag}[{beats - 1}:0], {source})" if beats > 1 else source
            e.line(f"{flag}.next = {shifted}")
        e.line(f"{win}[:] = 0")
        for offset in range(-ahead, ahead + 1):
            pixels = [q for q in range(span) if (q - half) // lanes == offset]
            if not pixels:
                continue
            lo_bit, hi_bit = pixels[0] * pixel_bits, (pixels[-1] + 1) * pixel_bits
            # flags after the shift: the new beat is at age 0, the centre at age A
            if offset > 0:
                ages = range(ahead - offset + 1, ahead + 1)
                cut = " or ".join(_new_flag("fl", age, "din_last") for age in ages)
            elif offset < 0:
                ages = range(ahead, ahead - offset)
                cut = " or ".join(_new_flag("ff", age, "din_first") for age in ages)
            else:
                cut = ""
            if cut:
                with e.indented(f"if not ({cut}):"):
                    e.line(f"{win}[{hi_bit}:{lo_bit}] = sr_n[{hi_bit}:{lo_bit}]")
            else:
                e.line(f"{win}[{hi_bit}:{lo_bit}] = sr_n[{hi_bit}:{lo_bit}]")
        e.line(f"dout.next = {win}")
        outputs = (("dout_valid", "fv", "din_valid"), ("dout_first", "ff", "din_first"), ("dout_last", "fl", "din_last"))
        for port, flag, source in outputs if flags else ():
            e.line(f"{port}.next = {_new_flag(flag, ahead, source)}")
    if flags:
        with e.indented("else:"):
            e.line("dout_valid.next = 0")
    ports = {"clk": clk, "rst": rst, "din": inp.data, "din_valid": inp.valid, "din_first": inp.first, "din_last": inp.last,
             "sr": Signal(intbv(0)[keep_bits:]), "fv": Signal(intbv(0)[beats:]),
             "ff": Signal(intbv(0)[beats:]), "fl": Signal(intbv(0)[beats:]), "dout": out.data}
    if flags:
        ports.update({"dout_valid": out.valid, "dout_first": out.first, "dout_last": out.last})
    return render("window_logic", e, ports)()


def _new_flag(flag: str, age: int, source: str) -> str:
    """Expression for a beat flag at `age` after this cycle's shift (age 0 is the incoming beat)."""
    return source if age == 0 else f"{flag}[{age - 1}]"

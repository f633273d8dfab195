"""A pipelined restoring divider: `q = floor(x / y)` for `0 <= x < y * 2^qbits`, one quotient bit per stage.

The classic shift-in form: the partial remainder `top` starts as `x >> qbits` (below `y`); stage `k`
(`k = 0 .. qbits-1`) shifts in the next bit of `x` and registers the difference `top - y` beside
`top` itself, without choosing between them. The next stage chooses (the difference when it is not
negative, which is also that stage's quotient bit) in the same look-up table that feeds its own
subtraction, so every registered stage is one LUT level and one carry chain as wide as `y` (plus
two bits); a last stage takes the final choice as the lowest quotient bit. A tag bus (whatever the
caller needs alongside: flags, indices) travels with each division, so the divider accepts one
division per clock (initiation interval 1) and answers `divider_latency` cycles later. With `y = 0`
the quotient is meaningless (all ones); callers flag that case in the tag.
"""
from __future__ import annotations

from typing import Any

from myhdl import Signal, block, intbv

from workbench.hw.codegen import Emitter, render, signed_bounds


def quotient_bits(qmax: int) -> int:
    """Quotient bits (subtracting stages) for quotients up to `qmax`."""
    return max(1, int(qmax).bit_length())


def divider_latency(qmax: int) -> int:
    """Cycles from the operands to the quotient: one per quotient bit and the final choice."""
    return quotient_bits(qmax) + 1


@block
def divider(clk: Any, rst: Any, x: Any, y: Any, tag: Any, valid: Any, q: Any, q_tag: Any, q_valid: Any,
            x_max: int, y_max: int, qmax: int) -> Any:
    """`q = x // y` for `0 <= x <= x_max`, `0 <= y <= y_max`, `x // y <= qmax`, `divider_latency(qmax)` cycles later."""
    qbits = quotient_bits(qmax)
    ybits = max(1, int(y_max).bit_length())
    e = Emitter()
    top = e.bits("top", ybits + 1)
    diff = e.var("diff", -y_max, 1 << (ybits + 1))
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "x": x, "y": y, "tag": tag, "valid": valid,
                             "q": q, "q_tag": q_tag, "q_valid": q_valid}
    qa = e.bits("qa", qbits)
    xbits = len(x) - 1  # x is a signed signal holding non-negative values
    prev: dict[str, str] = {}
    for stage in range(qbits + 1):
        bit = qbits - 1 - stage  # the bit of x shifted in at this stage
        names = {key: f"d{stage}_{key}" for key in ("top", "diff", "low", "q", "y", "tag", "valid")}
        if stage:  # choose the previous stage's remainder, its difference unless negative (quotient bit 1)
            if stage > 1:
                e.line(f"{qa}[{stage}:1] = {prev['q']}")
            with e.indented(f"if {prev['diff']} >= 0:"):
                e.line(f"{qa}[0] = 1")
                if stage < qbits:
                    e.line(f"{top}[{ybits + 1}:1] = {prev['diff']}[{ybits}:]")
            with e.indented("else:"):
                e.line(f"{qa}[0] = 0")
                if stage < qbits:
                    e.line(f"{top}[{ybits + 1}:1] = {prev['top']}")
            if stage == qbits:
                e.line(f"q.next = {qa}")
                e.line(f"q_tag.next = {prev['tag']}")
                e.line(f"q_valid.next = {prev['valid']}")
                break
            ports[names["q"]] = Signal(intbv(0)[stage:])
            e.line(f"{names['q']}.next = {qa}[{stage}:]")
            e.line(f"{top}[0] = {prev['low']}[{bit}]")
        else:
            e.line(f"{top}[:] = 0")
            high = min(xbits, qbits + ybits)
            if high > qbits:
                e.line(f"{top}[{high - qbits + 1}:1] = x[{high}:{qbits}]")
            if bit < xbits:
                e.line(f"{top}[0] = x[{bit}]")
        e.line(f"{diff}[:] = {top}")
        e.line(f"{diff}[:] = {diff} - {prev.get('y', 'y')}")
        dmin, dmax = signed_bounds(-y_max, 1 << (ybits + 1))
        ymin, ymax = signed_bounds(0, y_max)
        ports[names["diff"]] = Signal(intbv(0, min=dmin, max=dmax))
        ports[names["tag"]] = Signal(intbv(0)[len(tag):])
        ports[names["valid"]] = Signal(bool(0))
        e.line(f"{names['diff']}.next = {diff}")
        e.line(f"{names['tag']}.next = {prev.get('tag', 'tag')}")
        e.line(f"{names['valid']}.next = {prev.get('valid', 'valid')}")
        if bit:  # more bits of x to shift in (the last subtraction's sign is all the final stage needs)
            ports[names["top"]] = Signal(intbv(0)[ybits:])
            ports[names["y"]] = Signal(intbv(0, min=ymin, max=ymax))
            ports[names["low"]] = Signal(intbv(0)[bit:])
            e.line(f"{names['top']}.next = {top}[{ybits}:]")
            e.line(f"{names['y']}.next = {prev.get('y', 'y')}")
            e.line(f"{names['low']}.next = {prev['low'] + f'[{bit}:]' if stage else f'x[{min(bit, xbits)}:]'}")
        prev = names
    return render("divider_logic", e, ports)()


"""A pipelined restoring divider: `q = floor(x / y)` for `0 <= x < y * 2^qbits`, one quotient bit per stage.

Stage `k` (`k = 0 .. qbits-1`) compares the remainder with `y << (qbits-1-k)` and subtracts it when it
fits, setting that quotient bit. A tag bus (whatever the caller needs alongside: flags, indices)
travels with each division, so the divider accepts one division per clock (initiation interval 1)
and answers `qbits` cycles later. With `y = 0` the quotient is meaningless (all ones); callers flag
that case in the tag.
"""
from __future__ import annotations

from typing import Any

from myhdl import Signal, block, intbv

from workbench.hw.codegen import Emitter, render, signed_bounds


def quotient_bits(qmax: int) -> int:
    """Stages (quotient bits) for quotients up to `qmax`."""
    return max(1, int(qmax).bit_length())


@block
def divider(clk: Any, rst: Any, x: Any, y: Any, tag: Any, valid: Any, q: Any, q_tag: Any, q_valid: Any,
            x_max: int, y_max: int, qmax: int) -> Any:
    """`q = x // y` for `0 <= x <= x_max`, `0 <= y <= y_max`, `x // y <= qmax`, `quotient_bits(qmax)` cycles later."""
    qbits = quotient_bits(qmax)
    e = Emitter()
    hi = max(x_max, y_max << qbits, 1)
    r = e.var("r", 0, hi)
    t = e.var("t", 0, hi)
    acc = e.var("qa", 0, (1 << qbits) - 1)
    ports: dict[str, Any] = {"clk": clk, "rst": rst}
    source = {"r": "x", "y": "y", "q": None, "tag": "tag", "valid": "valid"}
    ports.update(x=x, y=y, tag=tag, valid=valid, q=q, q_tag=q_tag, q_valid=q_valid)
    for stage in range(qbits):
        shift = qbits - 1 - stage
        last = stage == qbits - 1
        e.line(f"{r}[:] = {source['r']}")
        e.line(f"{t}[:] = {source['y']}")
        e.line(f"{acc}[:] = {source['q'] or 0}")
        with e.indented(f"if {r} >= ({t} << {shift}):" if shift else f"if {r} >= {t}:"):
            e.line(f"{r}[:] = {r} - ({t} << {shift})" if shift else f"{r}[:] = {r} - {t}")
            e.line(f"{acc}[:] = {acc} + {1 << shift}")
        if last:
            e.line(f"q.next = {acc}[{qbits}:]")
            e.line(f"q_tag.next = {source['tag']}")
            e.line(f"q_valid.next = {source['valid']}")
            break
        names = {key: f"d{stage}_{key}" for key in ("r", "y", "q", "tag", "valid")}
        rmin, rmax = signed_bounds(0, x_max)
        ymin, ymax = signed_bounds(0, y_max)
        ports[names["r"]] = Signal(intbv(0, min=rmin, max=rmax))
        ports[names["y"]] = Signal(intbv(0, min=ymin, max=ymax))
        ports[names["q"]] = Signal(intbv(0)[qbits:])
        ports[names["tag"]] = Signal(intbv(0)[len(tag):])
        ports[names["valid"]] = Signal(bool(0))
        e.line(f"{names['r']}.next = {r}")
        e.line(f"{names['y']}.next = {source['y']}")
        e.line(f"{names['q']}.next = {acc}[{qbits}:]")
        e.line(f"{names['tag']}.next = {source['tag']}")
        e.line(f"{names['valid']}.next = {source['valid']}")
        source = names
    return render("divider_logic", e, ports)()

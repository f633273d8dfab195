"""Pipelined sums of constant multiples: the datapath of convolutions, dense layers and requantizers.

Each output is `const + sum(sign * (field << shift))` over terms read from one input beat (the
canonical signed digits of constant coefficients times the input fields, see `csd`). The terms are
reduced in `pipeline_stages` register levels: every level adds groups of at most `fan_in` operands, with
`fan_in` the smallest integer such that `fan_in ** pipeline_stages` covers the largest sum, so every output of
the block has the same latency (`pipeline_stages` cycles) and more pipeline_stages mean shorter adder chains between
registers. Every intermediate is sized from interval arithmetic on its terms; the last level is
stored at the caller's (contract) width, which the true value always fits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from myhdl import Signal, block

from workbench.hw.codegen import Emitter, render
from workbench.hw.stream import Fmt, Stream, bus_signal, field_offsets, new_stream, read_field


@dataclass(frozen=True)
class Term:
    """`sign * (field << shift)` with `field` an index into the input beat."""

    field: int
    shift: int
    sign: int


@dataclass(frozen=True)
class SumSpec:
    """One output: `const + sum(terms)`, its value always inside `out` (the contract's range)."""

    terms: tuple[Term, ...]
    const: int
    out: Fmt


@dataclass(frozen=True)
class _Operand:
    """An operand of a level: a field of the level's input bus, shifted and signed."""

    field: int
    shift: int
    sign: int
    lo: int
    hi: int


def fan_in(sums: Sequence[SumSpec], pipeline_stages: int) -> int:
    """Operands per adder node so that `pipeline_stages` levels reduce the largest sum to one value."""
    largest = max([len(s.terms) for s in sums] + [1])
    width = 2
    while width ** pipeline_stages < largest:
        width += 1
    return width


def tree_stream(sums: Sequence[SumSpec], lanes: int) -> Stream:
    """Fresh signals for an adder tree's output: one field per sum (`sum.out`), `lanes` pixels."""
    return new_stream([s.out for s in sums], lanes)


@block
def adder_tree(clk: Any, rst: Any, inp: Stream, out: Stream, sums: Sequence[SumSpec], pipeline_stages: int) -> Any:
    """Every sum of `sums` over each beat of `inp`, in `pipeline_stages` pipelined levels, driving `out`
    (see `tree_stream`); the flags follow `pipeline_stages` cycles later."""
    if pipeline_stages < 1:
        raise ValueError("an adder tree needs at least one pipeline stage")
    width = fan_in(sums, pipeline_stages)
    level = [[_operand(t, inp.fields[t.field]) for t in s.terms] for s in sums]
    consts = [s.const for s in sums]
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": inp.data, "dout": out.data}
    bus_fields: Sequence[Fmt] = inp.fields
    bus_name = "din"
    for stage in range(1, pipeline_stages + 1):
        last = stage == pipeline_stages
        nodes = [[ops[i:i + width] for i in range(0, len(ops), width)] or [[]] for ops in level]
        node_fmts = [[Fmt(sum(o.lo for o in group) + (c if g == 0 else 0), sum(o.hi for o in group) + (c if g == 0 else 0))
                      for g, group in enumerate(groups)] for groups, c in zip(nodes, consts)]
        stage_lo = min([f.lo for fmts in node_fmts for f in fmts] + [o.lo for ops in level for o in ops] + [0])
        stage_hi = max([f.hi for fmts in node_fmts for f in fmts] + [o.hi for ops in level for o in ops] + [0])
        used = sorted({o.field for ops in level for o in ops})
        for field in used:
            e.var(f"x{stage}_{field}", stage_lo, stage_hi)
            e.line(f"x{stage}_{field}[:] = {read_field(bus_name, bus_fields, field)}")
        acc = e.var(f"acc{stage}", stage_lo, stage_hi)
        out_fields = [sums[i].out if last else fmt for i, fmts in enumerate(node_fmts) for fmt in fmts]
        offsets = field_offsets(out_fields)
        pk = e.bits(f"pk{stage}", offsets[-1])
        index = 0
        for s_index, groups in enumerate(nodes):
            for g, group in enumerate(groups):
                const = consts[s_index] if g == 0 else 0
                e.line(f"{acc}[:] = {_expression(e, stage, group, const, stage_lo, stage_hi)}")
                e.line(f"{pk}[{offsets[index + 1]}:{offsets[index]}] = {acc}[{out_fields[index].width}:]")
                index += 1
        if last:
            e.line(f"dout.next = {pk}")
        else:
            reg = bus_signal(out_fields)
            ports[f"st{stage}"] = reg
            e.line(f"st{stage}.next = {pk}")
        # the next level sums the nodes of each output
        starts = _group_starts(nodes)
        level = [[_Operand(starts[s] + g, 0, 1, f.lo, f.hi) for g, f in enumerate(fmts)]
                 for s, fmts in enumerate(node_fmts)]
        consts = [0] * len(sums)
        bus_fields, bus_name = out_fields, f"st{stage}"
    delay_flags(e, ports, inp, out, pipeline_stages)
    return render("adder_tree_logic", e, ports)()


def _operand(term: Term, fmt: Fmt) -> _Operand:
    lo, hi = fmt.lo << term.shift, fmt.hi << term.shift
    return _Operand(term.field, term.shift, term.sign, *((lo, hi) if term.sign > 0 else (-hi, -lo)))


def _group_starts(nodes: list[list[list[_Operand]]]) -> list[int]:
    starts, total = [], 0
    for groups in nodes:
        starts.append(total)
        total += len(groups)
    return starts


def _expression(e: Emitter, stage: int, group: Sequence[_Operand], const: int, lo: int, hi: int) -> str:
    """`const + sum(sign * (x << shift))`, constant first so every partial sum stays inside [lo, hi]."""
    parts = [e.const(const, lo, hi)] if const or not group else []
    for op in group:
        value = f"x{stage}_{op.field}" + (f" << {op.shift}" if op.shift else "")
        value = f"({value})" if op.shift else value
        if not parts:
            parts.append(value if op.sign > 0 else f"-{value}")
        else:
            parts.append(("+ " if op.sign > 0 else "- ") + value)
    return " ".join(parts)


def delay_flags(e: Emitter, ports: dict[str, Any], inp: Stream, out: Stream, pipeline_stages: int) -> None:
    """Carry `valid/first/last` through `pipeline_stages` registers alongside the data."""
    for flag in ("valid", "first", "last"):
        source = f"din_{flag}"
        ports[source] = getattr(inp, flag)
        for stage in range(1, pipeline_stages):
            reg = f"{flag}{stage}"
            ports[reg] = Signal(bool(0))
            e.line(f"{reg}.next = {source}")
            source = reg
        ports[f"dout_{flag}"] = getattr(out, flag)
        e.line(f"dout_{flag}.next = {source}")

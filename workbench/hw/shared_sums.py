"""The `shared` arithmetic: sums of constant multiples as an adder graph with shared subexpressions.

Same interface and latency as `adder_tree` (every output registered `pipeline_stages` cycles after its beat),
different datapath: `cse.product_graph` finds the subexpressions common to the outputs, and
`schedule.place_registers` spreads the adders over the stages by estimated delay. Each stage is
straight-line code in one clocked process: the values it needs from earlier stages are read from the
previous stage's register bus, each adder's operands are copied into variables sized for its whole
expression (the conversion rule of `codegen`), and the values that later stages (or the outputs)
need go into the stage's register bus. Each adder is computed at the width of its own interval, so
synthesis builds narrow adders for the shared terms near the inputs.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from myhdl import block

from workbench.hw.adder_graph import AdderGraph, Operand
from workbench.hw.adder_tree import SumSpec, delay_flags
from workbench.hw.codegen import Emitter, render
from workbench.hw.cse import product_graph
from workbench.hw.schedule import place_registers
from workbench.hw.stream import Fmt, Stream, bus_signal, field_offsets, read_field


@block
def shared_sums(clk: Any, rst: Any, inp: Stream, out: Stream, sums: Sequence[SumSpec], pipeline_stages: int) -> Any:
    """Every sum of `sums` over each beat of `inp`, driving `out` (see `adder_tree.tree_stream`)
    `pipeline_stages` cycles later, with subexpressions shared across the sums."""
    graph = product_graph(sums, inp.fields, inp.lanes)
    stage_of = place_registers(graph, pipeline_stages)
    ranges = graph.value_ranges()
    last_use = _last_use(graph, stage_of, pipeline_stages)
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": inp.data, "dout": out.data}
    bus_name, bus_fields = "din", list(inp.fields)
    bus_index = {value: value for value in range(len(graph.inputs))}
    n_inputs = len(graph.inputs)
    for stage in range(1, pipeline_stages + 1):
        local: dict[int, str] = {}

        def source(value: int) -> str:
            return local.get(value) or read_field(bus_name, bus_fields, bus_index[value])

        for k, adder in enumerate(graph.adders):
            value = n_inputs + k
            if stage_of[value] == stage:
                local[value] = _emit_sum(e, f"n{value}", adder.operands, adder.const, *ranges[value], ranges, source)
        carried = [v for v in range(len(ranges)) if stage_of[v] <= stage < last_use.get(v, -1)]
        if carried:
            fields = [Fmt(*ranges[v]) for v in carried]
            pk = e.bits(f"pk{stage}", field_offsets(fields)[-1])
            for index, v in enumerate(carried):
                lo, hi = field_offsets(fields)[index:index + 2]
                e.line(f"{pk}[{hi}:{lo}] = {_as_var(e, f'c{stage}_{v}', source(v), fields[index])}[{fields[index].width}:]")
            ports[f"st{stage}"] = bus_signal(fields)
            e.line(f"st{stage}.next = {pk}")
            bus_name, bus_fields, bus_index = f"st{stage}", fields, {v: i for i, v in enumerate(carried)}
        if stage == pipeline_stages:
            _emit_outputs(e, graph, ranges, source)
    delay_flags(e, ports, inp, out, pipeline_stages)
    return render("shared_sums_logic", e, ports)()


def _last_use(graph: AdderGraph, stage_of: list[int], pipeline_stages: int) -> dict[int, int]:
    """The last stage reading each value (the outputs are read in the last stage)."""
    last: dict[int, int] = {}
    n_inputs = len(graph.inputs)
    for k, adder in enumerate(graph.adders):
        for op in adder.operands:
            last[op.value] = max(last.get(op.value, 0), stage_of[n_inputs + k])
    for output in graph.outputs:
        if output.operand is not None:
            last[output.operand.value] = pipeline_stages
    return last


def _as_var(e: Emitter, name: str, source: str, fmt: Fmt) -> str:
    """`source` itself when it is a variable, else a new variable (sized `fmt`) holding it."""
    if source.isidentifier():
        return source
    e.var(name, fmt.lo, fmt.hi)
    e.line(f"{name}[:] = {source}")
    return name


def _emit_sum(e: Emitter, name: str, operands: Sequence[Operand], const: int, lo: int, hi: int,
              ranges: list[tuple[int, int]], source: Callable[[int], str]) -> str:
    """`name = const + sum(operands)`, every operand first copied into a variable sized for the
    whole expression (which covers `[lo, hi]`); returns `name`."""
    bounds = [op.bounds(ranges) for op in operands] + [ranges[op.value] for op in operands]
    lo = min([lo, const, 0] + [b[0] for b in bounds])
    hi = max([hi, const, 0] + [b[1] for b in bounds])
    parts = [e.const(const, lo, hi)] if const else []
    for i, op in enumerate(sorted(operands, key=lambda o: -o.sign)):
        copy = e.var(f"{name}_{i}", lo, hi)
        e.line(f"{copy}[:] = {source(op.value)}")
        text = f"({copy} << {op.shift})" if op.shift else copy
        parts.append(("+ " if op.sign > 0 else "- ") + text if parts else (text if op.sign > 0 else f"-{text}"))
    e.var(name, lo, hi)
    e.line(f"{name}[:] = {' '.join(parts) or '0'}")
    return name


def _emit_outputs(e: Emitter, graph: AdderGraph, ranges: list[tuple[int, int]], source: Callable[[int], str]) -> None:
    """Pack every output at its contract width into `dout`."""
    fields = [output.out for output in graph.outputs]
    offsets = field_offsets(fields)
    pk = e.bits("pko", offsets[-1])
    for index, output in enumerate(graph.outputs):
        operands = [output.operand] if output.operand is not None else []
        result = _emit_sum(e, f"r{index}", operands, output.const, output.out.lo, output.out.hi, ranges, source)
        e.line(f"{pk}[{offsets[index + 1]}:{offsets[index]}] = {result}[{output.out.width}:]")
    e.line(f"dout.next = {pk}")

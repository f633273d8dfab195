"""Pipeline registers of an adder graph, placed by estimated delay rather than by operand count.

Delay model (an estimate for 7-series fabric, from the cell delays of Yosys's Xilinx library
`cells_sim.v`, before routing): a `w`-bit two-input adder is one LUT into the carry chain, through
it and out, `ADDER_NS + CARRY4_NS * ceil(w / 4)`; an adder's result is ready that long after its
latest operand. It counts every carry chain in full, so it overestimates chains of adders (their
carries overlap), but it ranks paths the way the hardware does: deep and wide ones first.

`place_registers` spreads the graph over `pipeline_stages` register levels by delay: adders are taken in
topological order, each in the stage of its latest operand unless that would take the stage past a
delay budget, in which case it starts the next stage; the budget is the smallest (found by
bisection) that needs no more than `pipeline_stages` stages, so the slowest stage is as fast as this greedy
placement allows. Every output is registered after the last stage, so the block's latency is
`pipeline_stages` cycles whatever the graph's shape.
"""
from __future__ import annotations

from workbench.hw.adder_graph import AdderGraph
from workbench.qnn.contract import bit_width

ADDER_NS = 1.1  # LUT6 (about 0.64 ns) plus entering and leaving a CARRY4 (about 0.45 ns)
CARRY4_NS = 0.114  # CARRY4 carry-in to carry-out, per 4 bits


def adder_delay_ns(width: int) -> float:
    """Estimated delay of one `width`-bit adder (see the module docstring)."""
    return ADDER_NS + CARRY4_NS * -(-width // 4)


def adder_delays(graph: AdderGraph) -> list[float]:
    """Estimated delay of every adder of `graph`, from its value's width."""
    ranges = graph.value_ranges()[len(graph.inputs):]
    return [adder_delay_ns(bit_width(lo, hi)) for lo, hi in ranges]


def critical_delay_ns(graph: AdderGraph) -> float:
    """Estimated delay of the graph's longest path without registers."""
    n_inputs = len(graph.inputs)
    arrival = [0.0] * n_inputs
    for adder, delay in zip(graph.adders, adder_delays(graph)):
        arrival.append(delay + max(arrival[op.value] for op in adder.operands))
    return max(arrival, default=0.0)


def place_registers(graph: AdderGraph, pipeline_stages: int) -> list[int]:
    """The stage (1..`pipeline_stages`) computing every value; inputs are stage 0 (they arrive registered).

    The per-stage budget is the smallest (to 1 %) for which `_fill` needs at most `pipeline_stages` stages.
    """
    if pipeline_stages < 1:
        raise ValueError("an adder graph needs at least one pipeline stage")
    delays = adder_delays(graph)
    low, high = max(delays, default=0.0), max(critical_delay_ns(graph), 1e-9)
    while high - low > 0.01 * high:
        middle = (low + high) / 2
        if max(_fill(graph, delays, middle), default=0) <= pipeline_stages:
            high = middle
        else:
            low = middle
    return _fill(graph, delays, high)


def stage_delays(graph: AdderGraph, stage: list[int]) -> list[float]:
    """Estimated delay of every value within its own stage (its chain of adders since the last register)."""
    arrival = [0.0] * len(graph.inputs)
    for adder, delay in zip(graph.adders, adder_delays(graph)):
        value = len(arrival)
        arrival.append(delay + max(arrival[op.value] if stage[op.value] == stage[value] else 0.0
                                   for op in adder.operands))
    return arrival


def _fill(graph: AdderGraph, delays: list[float], budget: float) -> list[int]:
    """Adders in topological order, each in its latest operand's stage unless that would take the
    stage past `budget`, else at the start of the next stage."""
    stage = [0] * len(graph.inputs)
    arrival = [0.0] * len(graph.inputs)
    for adder, delay in zip(graph.adders, delays):
        start = max([1] + [stage[op.value] for op in adder.operands])
        ready = delay + max(arrival[op.value] if stage[op.value] == start else 0.0 for op in adder.operands)
        if ready > budget * (1 + 1e-9):
            start, ready = start + 1, delay
        stage.append(start)
        arrival.append(ready)
    return stage

"""A small adder-graph IR for constant products: the MyHDL renderer and the analytic adder count read it.

Values are numbered: the graph's inputs first (`0 .. len(inputs) - 1`, the fields of an input beat,
each with its range), then one value per adder in `adders` (adder `k` is value `len(inputs) + k`).
An adder is one two-operand addition or subtraction: `const + sum(sign * (value << shift))` over one
or two operands, each of a lower-numbered value (so the list is in topological order), with
`const` non-zero when there is a single operand. An output is `const + sign * (value << shift)`,
or the constant alone: a wire when the sign is positive and the constant is zero, else one more
adder (a negation or a constant added). Evaluating the graph on integers (`evaluate`) is how the
tests prove that a generated graph computes the intended matrix-vector product exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from workbench.hw.stream import Fmt


@dataclass(frozen=True)
class Operand:
    """`sign * (value << shift)`, `value` a graph value number."""

    value: int
    shift: int
    sign: int

    def bounds(self, ranges: Sequence[tuple[int, int]]) -> tuple[int, int]:
        """Interval of the operand, given the interval of every value."""
        lo, hi = ranges[self.value]
        lo, hi = lo << self.shift, hi << self.shift
        return (lo, hi) if self.sign > 0 else (-hi, -lo)


@dataclass(frozen=True)
class Adder:
    """`const + sum(operands)`: one two-input adder (two operands, or one operand and a constant)."""

    operands: tuple[Operand, ...]
    const: int = 0


@dataclass(frozen=True)
class Output:
    """`const + operand` (`operand` None: the constant alone); its value always inside `out`."""

    operand: Operand | None
    const: int
    out: Fmt

    @property
    def needs_adder(self) -> bool:
        """Whether the output costs an adder of its own (a negation or an added constant)."""
        return self.operand is not None and (self.const != 0 or self.operand.sign < 0)


@dataclass(frozen=True)
class AdderGraph:
    """Inputs (ranges of the beat's fields), adders in topological order, outputs."""

    inputs: tuple[Fmt, ...]
    adders: tuple[Adder, ...]
    outputs: tuple[Output, ...]

    def value_ranges(self) -> list[tuple[int, int]]:
        """Interval of every value (inputs, then adders), by interval arithmetic."""
        ranges = [(f.lo, f.hi) for f in self.inputs]
        for adder in self.adders:
            bounds = [op.bounds(ranges) for op in adder.operands]
            ranges.append((adder.const + sum(b[0] for b in bounds), adder.const + sum(b[1] for b in bounds)))
        return ranges

    def depths(self) -> list[int]:
        """Adder levels from the inputs to every value (inputs 0)."""
        depths = [0] * len(self.inputs)
        for adder in self.adders:
            depths.append(1 + max(depths[op.value] for op in adder.operands))
        return depths


def adder_count(graph: AdderGraph) -> int:
    """Two-input adders and subtractors of the graph, the outputs' negations and constants included."""
    return len(graph.adders) + sum(output.needs_adder for output in graph.outputs)


def evaluate(graph: AdderGraph, inputs: np.ndarray) -> np.ndarray:
    """The outputs for every row of `inputs` (shape `(n, len(graph.inputs))`), in exact integers."""
    values = [np.asarray(inputs, dtype=object)[:, i] for i in range(len(graph.inputs))]

    def term(op: Operand) -> np.ndarray:
        return op.sign * (values[op.value] << op.shift)

    for adder in graph.adders:
        values.append(adder.const + sum(term(op) for op in adder.operands))
    rows = np.asarray(inputs).shape[0]
    columns = [output.const + (term(output.operand) if output.operand is not None else np.zeros(rows, dtype=object))
               for output in graph.outputs]
    return np.stack(columns, axis=1) if columns else np.zeros((rows, 0), dtype=object)

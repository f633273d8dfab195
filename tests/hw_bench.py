"""A tiny stream testbench for single hardware blocks: drive beats in, collect beats out."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from myhdl import ResetSignal, Signal, StopSimulation, block, delay, instance

from workbench.hw.stream import Stream, field_offsets


def run_stream_block(make: Callable[[Any, Any], Any], inp: Stream, out: Stream, words: Sequence[int],
                     firsts: Sequence[bool], lasts: Sequence[bool], gaps: Sequence[int] = (),
                     drain: int = 40) -> list[int]:
    """Feed `words` (one per beat, `gaps[i]` idle cycles before beat i) and return the output words.

    `make(clk, rst)` must be a `@block` (e.g. `functools.partial` of one with its other arguments):
    MyHDL only accepts blocks instantiated directly in the testbench block's body.
    """
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    collected: list[int] = []

    def tick() -> Any:
        yield delay(5)
        clk.next = 1
        yield delay(5)
        clk.next = 0

    @block
    def bench() -> Any:
        dut = make(clk, rst)

        @instance
        def drive() -> Any:
            rst.next = 1
            yield from tick()
            rst.next = 0
            schedule = []
            for i, word in enumerate(words):
                schedule += [None] * (gaps[i] if i < len(gaps) else 0) + [i]
            for slot in schedule + [None] * drain:
                if out.valid:
                    collected.append(int(out.data.val))
                inp.valid.next = slot is not None
                if slot is not None:
                    inp.data.next = words[slot]
                    inp.first.next = firsts[slot]
                    inp.last.next = lasts[slot]
                yield from tick()
            raise StopSimulation

        return dut, drive

    bench().run_sim(quiet=1)
    return collected


def pack(values: Sequence[int], widths: Sequence[int]) -> int:
    """Pack two's complement values into one word, first value in the low bits."""
    word, offset = 0, 0
    for value, width in zip(values, widths):
        word |= (int(value) & ((1 << width) - 1)) << offset
        offset += width
    return word


def unpack(word: int, stream: Stream) -> list[int]:
    """The signed (or raw unsigned) fields of a stream word."""
    offsets = field_offsets(stream.fields)
    values = []
    for index, fmt in enumerate(stream.fields):
        width = offsets[index + 1] - offsets[index]
        value = (word >> offsets[index]) & ((1 << width) - 1)
        if not fmt.raw and value >> (width - 1):
            value -= 1 << width
        values.append(value)
    return values

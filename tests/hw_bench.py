"""A tiny stream testbench for single hardware blocks: drive beats in, collect beats out."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from myhdl import ResetSignal, Signal, StopSimulation, block, instance

from workbench.hw.stream import Stream
from workbench.verify import beats
from workbench.verify.int_processes import use_integer_processes


def run_stream_block(make: Callable[[Any, Any], Any], inp: Stream, out: Stream, words: Sequence[int],
                     firsts: Sequence[bool], lasts: Sequence[bool], gaps: Sequence[int] = (),
                     drain: int = 40, integer_processes: bool = False) -> list[int]:
    """Feed `words` (one per beat, `gaps[i]` idle cycles before beat i) and return the output words.

    With `integer_processes` the block's processes run as their integer translations
    (`workbench.verify.int_processes`), as `run_design` runs them; without, as MyHDL runs the source.

    The stream is driven by `workbench.verify.beats.drive_clocks`, as every simulation is.
    `make(clk, rst)` must be a `@block` (e.g. `functools.partial` of one with its other arguments):
    MyHDL only accepts blocks instantiated directly in the testbench block's body.
    """
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    clocks = beats.beat_clocks(words, firsts, lasts, gaps) + [beats.IDLE] * drain
    collected: list[int] = []

    def collect(edge: int) -> None:
        if out.valid:
            collected.append(int(out.data.val))

    @block
    def bench() -> Any:
        dut = make(clk, rst)

        @instance
        def drive() -> Any:
            yield from beats.drive_clocks(clk, rst, inp.valid, inp.first, inp.last, inp.data, clocks, collect)
            raise StopSimulation

        return dut, drive

    testbench = bench()
    if integer_processes:
        use_integer_processes(testbench)
    testbench.run_sim(quiet=1)
    return collected


def unpack(word: int, stream: Stream) -> list[int]:
    """The signed (or raw unsigned) fields of a stream word."""
    return beats.unpack(word, [fmt.width for fmt in stream.fields], [not fmt.raw for fmt in stream.fields])

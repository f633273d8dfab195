"""The input side of every simulation: beats packed into words, `tvalid` gaps, clock and reset.

One clock of input is a `Clock`, `(tvalid, tuser, tlast, tdata)`. A profile of `L` pixels is `L/P`
beats, lane `j` of a beat (pixel `beat*P + j`) at bits `[j*B+B-1 : j*B]` of `tdata`, `tuser` on its
first beat and `tlast` on its last. A gap schedule puts idle clocks (`IDLE`: every field zero)
before some beats. Every simulation drives the same way (`drive_clocks`): reset high for
`RESET_CYCLES` rising edges, then clock line `k` (0-based) sampled by rising edge
`RESET_CYCLES + k + 1`, each line set just after a falling edge. The MyHDL harness, the vector files
of the HDL testbenches, the co-simulation and the block tests all use this module, so they see the
same stream.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import numpy as np
from myhdl import delay

from workbench.errors import ConfigError

Clock = tuple[int, int, int, int]  # tvalid, tuser (first beat), tlast (last beat), tdata
IDLE: Clock = (0, 0, 0, 0)
RESET_CYCLES = 4
HALF_PERIOD = 5  # simulated time units per clock phase
DEFAULT_GAP_SHARE = 0.3


def pack(values: Sequence[int], widths: Sequence[int]) -> int:
    """Pack two's complement values into one word, the first value in the low bits."""
    word, offset = 0, 0
    for value, width in zip(values, widths, strict=True):
        word |= (int(value) & ((1 << width) - 1)) << offset
        offset += width
    return word


def pack_lanes(values: Sequence[int] | np.ndarray, width: int) -> int:
    """Pack one beat's lane values (`width` bits each, lane 0 lowest) into a word."""
    values = list(np.asarray(values).tolist())
    return pack(values, [width] * len(values))


def unpack(word: int, widths: Sequence[int], signed: Sequence[bool]) -> list[int]:
    """The fields of a word (first in the low bits), two's complement where `signed`, else unsigned."""
    values, offset = [], 0
    for width, is_signed in zip(widths, signed, strict=True):
        value = (int(word) >> offset) & ((1 << width) - 1)
        if is_signed and value >> (width - 1):
            value -= 1 << width
        values.append(value)
        offset += width
    return values


def unpack_lanes(words: Sequence[int], lanes: int, width: int, signed: bool = True) -> np.ndarray:
    """`(len(words), lanes)` lane values of beat words (lane 0 in the low bits)."""
    return np.array([unpack(word, [width] * lanes, [signed] * lanes) for word in words],
                    dtype=np.int64).reshape(len(words), lanes)


def gap_schedule(beats: int, seed: int | None, share: float = DEFAULT_GAP_SHARE) -> list[int]:
    """Idle clocks before each of `beats` beats: none without a seed; with one, 1-3 idle clocks before
    about `share` of the beats (one seeded draw of which beats, then one of how many clocks)."""
    if not 0 <= share <= 1:
        raise ConfigError(f"gap share {share!r}; allowed: a number in [0, 1]")
    if seed is None or not share:
        return [0] * beats
    rng = np.random.default_rng(seed)
    return np.where(rng.random(beats) < share, rng.integers(1, 4, size=beats), 0).tolist()


def beat_clocks(words: Sequence[int], firsts: Sequence[bool], lasts: Sequence[bool],
                gaps: Sequence[int] = ()) -> list[Clock]:
    """One `Clock` per clock: `gaps[i]` idle clocks (missing entries: none), then beat `i`."""
    clocks: list[Clock] = []
    for index, word in enumerate(words):
        clocks.extend([IDLE] * (gaps[index] if index < len(gaps) else 0))
        clocks.append((1, int(bool(firsts[index])), int(bool(lasts[index])), int(word)))
    return clocks


def profile_clocks(profiles: np.ndarray, lanes: int, in_bits: int, gap_seed: int | None = None,
                   gap_share: float = DEFAULT_GAP_SHARE) -> list[Clock]:
    """The clocks that stream `profiles` `(N, L)` through a `lanes`-pixel input, back to back, or
    with the seeded `gap_schedule` when `gap_seed` is given."""
    array = np.asarray(profiles)
    beats = array.shape[1] // lanes
    words = [pack_lanes(row[beat * lanes:(beat + 1) * lanes], in_bits) for row in array for beat in range(beats)]
    positions = [index % beats for index in range(len(words))]
    return beat_clocks(words, [p == 0 for p in positions], [p == beats - 1 for p in positions],
                       gap_schedule(len(words), gap_seed, gap_share))


def drive_clocks(clk: Any, rst: Any, valid: Any, first: Any, last: Any, data: Any, clocks: Sequence[Clock],
                 after_edge: Callable[[int], None] | None = None,
                 reset_cycles: int = RESET_CYCLES) -> Iterator[Any]:
    """MyHDL generator: reset for `reset_cycles` rising edges, then one line of `clocks` per clock.

    Every line is set just after a falling edge, half a period before the rising edge that samples
    it; reset clocks drive `IDLE`. `after_edge(k)` runs after the falling edge that follows rising
    edge `k` (numbered from -`reset_cycles`; edge `k >= 0` sampled line `k`), when the outputs
    that edge registered are settled; it may raise `StopSimulation`.
    """
    rst.next = 1
    for cycle in range(-reset_cycles, len(clocks)):
        if cycle == 0:
            rst.next = 0
        valid.next, first.next, last.next, data.next = clocks[cycle] if cycle >= 0 else IDLE
        yield delay(HALF_PERIOD)
        clk.next = 1
        yield delay(HALF_PERIOD)
        clk.next = 0
        yield delay(0)
        if after_edge is not None:
            after_edge(cycle)

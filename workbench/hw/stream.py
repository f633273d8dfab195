"""Packed streams between blocks: field formats, bus layout and the valid/first/last side band.

A stream carries one beat per clock when `valid` is high: `lanes` pixels, each with `channels`
fields, packed pixel-major into one unsigned bus (field `lane * channels + c` at increasing bit
offsets, lane 0 in the low bits, as on the top-level `s_tdata`). Every field is a two's complement
number as wide as its range needs (the contract's rule), except raw unsigned fields (the input
pixels on `s_tdata`). `first` and `last` mark the first and last beat of a profile.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from myhdl import Signal, intbv

from workbench.qnn.contract import bit_width


@dataclass(frozen=True)
class Fmt:
    """The range `[lo, hi]` of one field; `raw` stores it unsigned (`hi.bit_length()` bits, lo >= 0)."""

    lo: int
    hi: int
    raw: bool = False

    @property
    def width(self) -> int:
        """Bits the field takes in a packed bus."""
        return max(1, int(self.hi).bit_length()) if self.raw else bit_width(self.lo, self.hi)



@dataclass
class Stream:
    """A packed data bus with its formats and the `valid`, `first`, `last` flags of each beat."""

    data: Any
    fields: tuple[Fmt, ...]
    lanes: int
    valid: Any
    first: Any
    last: Any

    @property
    def channels(self) -> int:
        """Fields per pixel."""
        return len(self.fields) // self.lanes



def field_offsets(fields: Sequence[Fmt]) -> list[int]:
    """Bit offset of every field, then the total width."""
    offsets = [0]
    for fmt in fields:
        offsets.append(offsets[-1] + fmt.width)
    return offsets


def read_field(name: str, fields: Sequence[Fmt], index: int) -> str:
    """Source expression for field `index` of a bus bound to `name`."""
    offsets = field_offsets(fields)
    lo, hi = offsets[index], offsets[index + 1]
    return f"{name}[{hi}:{lo}]" if fields[index].raw else f"{name}[{hi}:{lo}].signed()"


def bus_signal(fields: Sequence[Fmt]) -> Any:
    """A fresh unsigned bus signal wide enough for `fields`."""
    return Signal(intbv(0)[field_offsets(fields)[-1]:])


def new_stream(fields: Sequence[Fmt], lanes: int) -> Stream:
    """A stream on fresh signals."""
    return Stream(bus_signal(fields), tuple(fields), lanes, Signal(bool(0)), Signal(bool(0)), Signal(bool(0)))


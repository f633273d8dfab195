"""The streaming top-level's interface: one design description for the generator and the HDL flow.

`workbench.hw.top.build_top` returns one (a `TopDesign`, which adds the network and its settings);
the flow (simulation, conversion, testbenches, vectors, co-simulation, synthesis) only needs the
agreed AXI4-Stream style interface of the peak detector:

    inputs  clk, rst (synchronous, active high), s_tdata (P*B bits, lane j = pixel beat*P+j at
            bits [j*B+B-1 : j*B]), s_tvalid, s_tuser (first beat of a profile), s_tlast (last beat)
    outputs m_score_tdata (P*SW bits, two's complement lanes packed like s_tdata), m_score_tvalid,
            m_score_tuser, m_score_tlast, m_found, m_pos (unsigned, units of 2^-F pixel),
            m_result_tvalid

so any block with those ports (the real network top-level or a small test fixture) can go through it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from myhdl import ResetSignal, Signal, intbv

INPUT_PORTS = ("clk", "rst", "s_tdata", "s_tvalid", "s_tuser", "s_tlast")
OUTPUT_PORTS = ("m_score_tdata", "m_score_tvalid", "m_score_tuser", "m_score_tlast",
                "m_found", "m_pos", "m_result_tvalid")


def port_signals(widths: dict[str, int]) -> dict[str, Any]:
    """Fresh top-level port signals: the buses of `widths` unsigned, the others one bit, `rst` a
    synchronous active-high reset (a `StreamDesign.make_signals`, with its widths bound)."""
    signals = {name: Signal(intbv(0)[width:]) for name, width in widths.items()}
    signals["clk"] = Signal(bool(0))
    signals["rst"] = ResetSignal(0, active=1, isasync=False)
    for name in INPUT_PORTS + OUTPUT_PORTS:
        signals.setdefault(name, Signal(bool(0)))
    return signals


@dataclass(frozen=True)
class PortInfo:
    """One top-level port: its name, direction, width and HDL type."""

    name: str
    direction: str  # "in" or "out"
    width: int
    signed: bool
    scalar: bool  # a MyHDL bool: std_logic in VHDL, a 1-bit net in Verilog


@dataclass(frozen=True)
class StreamDesign:
    """A peak-detector top-level: sizes, latencies, fresh port signals and the block factory.

    `make_signals()` returns a fresh dict of the top-level's MyHDL signals (name -> Signal, the
    reset a ResetSignal); `factory(**signals)` elaborates the block on them (it is the block itself
    with its parameters bound, so a testbench `@block` can call it in its body). `latency` is the
    delay in clock cycles from an input beat to its score beat, `result_latency` from a profile's
    last input beat to its result; `frac_bits` is the head's F.
    """

    name: str
    lanes: int
    profile_length: int
    in_bits: int
    score_bits: int
    pos_bits: int
    frac_bits: int
    latency: int
    result_latency: int
    make_signals: Callable[[], dict[str, Any]]
    factory: Callable[..., Any]

    @property
    def beats_per_profile(self) -> int:
        """Input beats per profile (profile length over lanes)."""
        return self.profile_length // self.lanes

    @property
    def longest_latency(self) -> int:
        """The longest delay from an input beat to an output it causes (sizes drain times)."""
        return max(self.latency, self.result_latency)

    def instance(self, signals: dict[str, Any] | None = None) -> Any:
        """An elaborated block instance, on fresh signals unless some are given."""
        return self.factory(**(signals if signals is not None else self.make_signals()))

    def ports(self) -> list[PortInfo]:
        """The top-level ports in interface order, with widths and types read from the signals."""
        signals = self.make_signals()
        infos = []
        for name in INPUT_PORTS + OUTPUT_PORTS:
            sig = signals[name]
            scalar = isinstance(sig.val, bool)
            signed = (not scalar) and sig.min is not None and sig.min < 0
            infos.append(PortInfo(name, "in" if name in INPUT_PORTS else "out",
                                  1 if scalar else len(sig), signed, scalar))
        return infos

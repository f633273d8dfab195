"""Regression tests for the known MyHDL conversion traps (toolchain notes, section 3.4).

Each trap is exercised on a tiny block, written the safe way, and its printed trace must be the
same in MyHDL, GHDL and Icarus. Where the trap is silent, the naive form is shown to differ too,
so the harness demonstrably catches it.
"""
from __future__ import annotations

import pytest
from myhdl import Signal, always_seq, block, delay, instance, intbv

from hdl_fixtures import hdl_traces, trap_mixed_sum, trap_rom, trap_rom_comb, trap_wide_constant

pytestmark = pytest.mark.hdl


def _clocked(dut_factory, a, b, y, stimulus, ports=None, **params):
    """A printing testbench: apply each (a, b) of `stimulus`, clock once, print y in decimal; the
    DUT gets `clk, *ports, **params` (ports default to a, b, y).
    (Stimulus lives in tuple ROMs read as `sig.next = ROM[int(i)]`, the form that converts.)"""
    rom_a = tuple(int(v[0]) for v in stimulus)
    rom_b = tuple(int(v[1]) for v in stimulus)
    count = len(stimulus)

    @block
    def tb():
        clk = Signal(bool(0))
        dut = dut_factory(clk, *(ports or (a, b, y)), **params)

        @instance
        def drive():
            for i in range(count):
                a.next = rom_a[int(i)]
                b.next = rom_b[int(i)]
                yield delay(5)
                clk.next = 1
                yield delay(5)
                clk.next = 0
                print("%d" % y)

        return dut, drive

    return tb


def _mixed_sum_tb(naive: bool):
    @block
    def naive_sum(clk, a, b, y):
        @always_seq(clk.posedge, reset=None)
        def logic():
            y.next = (a + b) >> 1

        return logic

    a, b = Signal(intbv(0)[8:]), Signal(intbv(0, min=-128, max=128))
    y = Signal(intbv(0, min=-256, max=256))
    stimulus = [(255, 127), (0, -128), (200, -1), (255, -128), (17, 99)]
    return _clocked(naive_sum if naive else trap_mixed_sum, a, b, y, stimulus)


def _wide_constant_tb(coefficient: int):
    x, unused = Signal(intbv(0, min=-128, max=128)), Signal(bool(0))
    y = Signal(intbv(0, min=-(1 << 17), max=1 << 17))
    stimulus = [(v, 0) for v in (-128, -5, 0, 7, 127, 100)]
    return _clocked(trap_wide_constant, x, unused, y, stimulus, ports=(x, y), coefficient=coefficient)


def test_mixed_signed_unsigned_sum_widened(tmp_path):
    traces = hdl_traces(lambda: _mixed_sum_tb(naive=False)(), tmp_path)
    assert traces["myhdl"] == traces["ghdl"] == traces["icarus"]
    assert "191" in traces["myhdl"]  # (255 + 127) >> 1, which wraps without the widening


def test_mixed_sum_naive_form_differs(tmp_path):
    traces = hdl_traces(lambda: _mixed_sum_tb(naive=True)(), tmp_path)
    assert traces["myhdl"] != traces["ghdl"] and traces["myhdl"] != traces["icarus"]


def test_constant_wider_than_signal(tmp_path):
    traces = hdl_traces(lambda: _wide_constant_tb(300)(), tmp_path)
    assert traces["myhdl"] == traces["ghdl"] == traces["icarus"]
    assert str(300 * -128) in traces["myhdl"]


def test_rom_reads(tmp_path):
    rom = (5, -3, 127, -128, 0, 77, -1, 64)
    k, unused = Signal(intbv(0, min=0, max=len(rom))), Signal(bool(0))
    y = Signal(intbv(0, min=-128, max=128))
    order = (3, 0, 7, 1, 6, 2, 5, 4, 3)
    (tmp_path / "seq").mkdir()
    traces = hdl_traces(lambda: _clocked(trap_rom, k, unused, y, [(i, 0) for i in order], ports=(k, y),
                                         rom=rom)(), tmp_path / "seq")
    assert traces["myhdl"] == traces["ghdl"] == traces["icarus"] == [str(rom[i]) for i in order]

    order_rom = order

    @block
    def comb_tb():
        k2, y2 = Signal(intbv(len(rom) - 1, min=0, max=len(rom))), Signal(intbv(0, min=-128, max=128))
        dut = trap_rom_comb(k2, y2, rom)

        @instance
        def drive():
            for i in range(len(order)):  # the first index differs from the idle one: always @(k) fires
                k2.next = order_rom[int(i)]
                yield delay(5)
                print("%d" % y2)

        return dut, drive

    (tmp_path / "comb").mkdir()
    traces = hdl_traces(comb_tb, tmp_path / "comb")
    assert traces["myhdl"] == traces["ghdl"] == traces["icarus"] == [str(rom[i]) for i in order]

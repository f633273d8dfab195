"""Small MyHDL blocks for testing the HDL flow independently of the network generator.

`fixture_design` is a streaming "peak detector" with exactly the top-level ports of the real one:
the score of pixel i is `weight * x[i] + bias` (a one-tap filter whose coefficient may be wider than
the pixel, the VHDL constant-truncation trap), the head is a running argmax with `found = max >=
threshold` and `pos = p * 2^F`. `fixture_reference` computes the same in numpy. The `trap_*` blocks
are the minimal cases of the known MyHDL conversion traps, written the safe way. `passes_in_every_simulator`
runs a written HDL package's testbench in every simulator, with a negative control.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from myhdl import ConcatSignal, ResetSignal, Signal, always_comb, always_seq, block, intbv

from workbench.hw.interface import StreamDesign


def _score_range(in_bits: int, weight: int, bias: int) -> tuple[int, int]:
    ends = (bias, weight * ((1 << in_bits) - 1) + bias)
    return min(ends), max(ends)


def _width(lo: int, hi: int) -> int:
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


@block
def lane_score(clk, rst, pixel, score, raw, weight, bias):
    """score = weight * pixel + bias, registered, and its bits as unsigned `raw` for packing
    (MyHDL's VHDL for a ConcatSignal of signed slices does not analyse). The pixel is widened
    first (the VHDL constant-truncation trap)."""
    in_bits, sw = len(pixel), len(score)

    @always_seq(clk.posedge, reset=rst)
    def logic():
        xv = intbv(0, min=-(1 << (in_bits + 1)), max=1 << (in_bits + 1))
        sc = intbv(0, min=score.min, max=score.max)
        xv[:] = pixel
        sc[:] = weight * xv + bias
        score.next = sc
        raw.next = sc[sw:]

    return logic


@block
def lane_argmax(score, best_in, idx_in, best_out, idx_out, beat, lanes, lane):
    """One link of the argmax chain: take this lane's score when strictly greater (first index wins)."""

    @always_comb
    def logic():
        if score > best_in:
            best_out.next = score
            idx_out.next = beat * lanes + lane
        else:
            best_out.next = best_in
            idx_out.next = idx_in

    return logic


@block
def fixture_top(clk, rst, s_tdata, s_tvalid, s_tuser, s_tlast, m_score_tdata, m_score_tvalid,
                m_score_tuser, m_score_tlast, m_found, m_pos, m_result_tvalid,
                lanes, in_bits, weight, bias, threshold, frac_bits, profile_length):
    """One-tap filter per lane (scores after 1 clock) and a running argmax head (result 1 clock
    after the last score beat). Every lane is its own generator with constant slices: MyHDL turns
    a slice indexed by a loop variable into a part-select that is not legal Verilog."""
    sw = len(m_score_tdata) // lanes
    smin, smax = -(1 << (sw - 1)), 1 << (sw - 1)
    scores = [Signal(intbv(0, min=smin, max=smax)) for _ in range(lanes)]
    raws = [Signal(intbv(0)[sw:]) for _ in range(lanes)]
    cand = [Signal(intbv(0, min=smin, max=smax)) for _ in range(lanes + 1)]
    cand_idx = [Signal(intbv(0, min=0, max=profile_length)) for _ in range(lanes + 1)]
    beat = Signal(intbv(0, min=0, max=profile_length))  # index of the next input beat
    beat1 = Signal(intbv(0, min=0, max=profile_length))  # index of the beat now in `scores`
    best = Signal(intbv(0, min=smin, max=smax))
    best_idx = Signal(intbv(0, min=0, max=profile_length))

    packed = ConcatSignal(*reversed(raws)) if lanes > 1 else raws[0]

    @always_comb
    def head_start():
        if m_score_tuser:
            cand[0].next = smin
            cand_idx[0].next = 0
        else:
            cand[0].next = best
            cand_idx[0].next = best_idx

    @always_comb
    def pack():
        m_score_tdata.next = packed

    @always_seq(clk.posedge, reset=rst)
    def control():
        m_score_tvalid.next = s_tvalid
        m_score_tuser.next = s_tvalid and s_tuser
        m_score_tlast.next = s_tvalid and s_tlast
        if s_tvalid:
            beat1.next = 0 if s_tuser else beat
            beat.next = 1 if s_tuser else beat + 1
        m_result_tvalid.next = 0
        if m_score_tvalid:
            best.next = cand[lanes]
            best_idx.next = cand_idx[lanes]
            if m_score_tlast:
                m_result_tvalid.next = 1
                if cand[lanes] >= threshold:
                    m_found.next = 1
                    m_pos.next = cand_idx[lanes] << frac_bits
                else:
                    m_found.next = 0
                    m_pos.next = 0

    lane_blocks = [lane_score(clk, rst, s_tdata((j + 1) * in_bits, j * in_bits), scores[j], raws[j],
                              weight, bias)
                   for j in range(lanes)]
    argmax_blocks = [lane_argmax(scores[j], cand[j], cand_idx[j], cand[j + 1], cand_idx[j + 1], beat1,
                                 lanes, j) for j in range(lanes)]
    return lane_blocks, argmax_blocks, head_start, pack, control


def fixture_design(lanes: int = 2, in_bits: int = 8, weight: int = 300, bias: int = -20000,
                   threshold: int = 10000, frac_bits: int = 2, profile_length: int = 16) -> StreamDesign:
    """The fixture as a StreamDesign (a coefficient of 300 is wider than the 8-bit pixel)."""
    sw = _width(*_score_range(in_bits, weight, bias))
    pos_bits = _width(0, (profile_length - 1) << frac_bits) - 1

    def make_signals() -> dict:
        return {
            "clk": Signal(bool(0)), "rst": ResetSignal(0, active=1, isasync=False),
            "s_tdata": Signal(intbv(0)[lanes * in_bits:]), "s_tvalid": Signal(bool(0)),
            "s_tuser": Signal(bool(0)), "s_tlast": Signal(bool(0)),
            "m_score_tdata": Signal(intbv(0)[lanes * sw:]), "m_score_tvalid": Signal(bool(0)),
            "m_score_tuser": Signal(bool(0)), "m_score_tlast": Signal(bool(0)),
            "m_found": Signal(bool(0)), "m_pos": Signal(intbv(0)[pos_bits:]),
            "m_result_tvalid": Signal(bool(0)),
        }

    def factory(**signals):
        return fixture_top(**signals, lanes=lanes, in_bits=in_bits, weight=weight, bias=bias,
                           threshold=threshold, frac_bits=frac_bits, profile_length=profile_length)

    return StreamDesign(name="fixture_top", lanes=lanes, profile_length=profile_length,
                        in_bits=in_bits, score_bits=sw, pos_bits=pos_bits, frac_bits=frac_bits,
                        latency=1, result_latency=2, make_signals=make_signals, factory=factory)


def fixture_reference(profiles: np.ndarray, weight: int = 300, bias: int = -20000,
                      threshold: int = 10000, frac_bits: int = 2
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy model of the fixture: (scores (N, L), found (N,), pos (N,))."""
    scores = weight * profiles.astype(np.int64) + bias
    p = scores.argmax(axis=1)
    found = scores[np.arange(len(scores)), p] >= threshold
    pos = np.where(found, p << frac_bits, 0).astype(np.int64)
    return scores, found, pos


@block
def trap_mixed_sum(clk, a, b, y):
    """(a_u8 + b_s8) >> 1 computed in a widened variable (the mixed signed/unsigned trap)."""

    @always_seq(clk.posedge, reset=None)
    def logic():
        t = intbv(0, min=-(1 << 10), max=1 << 10)
        t[:] = a
        t[:] = t + b
        y.next = t >> 1

    return logic


@block
def trap_wide_constant(clk, x, y, coefficient):
    """coefficient * x with a coefficient wider than x, widened first (the VHDL truncation trap)."""

    @always_seq(clk.posedge, reset=None)
    def logic():
        e = intbv(0, min=y.min, max=y.max)
        e[:] = x
        y.next = coefficient * e

    return logic


@block
def trap_rom(clk, k, y, rom):
    """A tuple ROM read as `sig.next = ROM[int(k)]`, the only form that converts."""

    @always_seq(clk.posedge, reset=None)
    def logic():
        y.next = rom[int(k)]

    return logic


@block
def trap_rom_comb(k, y, rom):
    """A combinational ROM read (a case statement; in Verilog it does not evaluate at time 0)."""

    @always_comb
    def logic():
        y.next = rom[int(k)]

    return logic


def hdl_traces(testbench_factory, folder, name: str = "tb_trap") -> dict[str, list[str]]:
    """Run a printing MyHDL testbench in MyHDL, and converted (with initial values) in GHDL and
    Icarus, each under a timeout; returns the printed lines of each (MyHDL's `verify_convert` diff,
    but with the tools' timeouts and lookups of workbench.hdl.tools)."""
    import contextlib
    import io

    from workbench.verify.simulators import GHDL_BACKENDS, ghdl_elaborate, icarus_compile
    from workbench.hdl.tools import run_tool

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        testbench_factory().run_sim(quiet=1)
    traces = {"myhdl": buffer.getvalue().split()}
    testbench_factory().convert(hdl="VHDL", path=str(folder), name=name, initial_values=True)
    backend = ghdl_elaborate([folder / "pck_myhdl_011.vhd", folder / f"{name}.vhd"], name, folder)
    run = run_tool([GHDL_BACKENDS[backend], "-r", "--std=08", f"--workdir={folder}", name, "--ieee-asserts=disable"],
                   cwd=folder, timeout_s=60, check=False)
    traces["ghdl"] = [w for w in run.stdout.split() if w.lstrip("-").isdigit()]
    testbench_factory().convert(hdl="Verilog", path=str(folder), name=name, initial_values=True,
                                testbench=False)
    icarus_compile([folder / f"{name}.v"], name, folder / f"{name}.vvp")
    run = run_tool(["vvp", "-n", str(folder / f"{name}.vvp")], cwd=folder, timeout_s=60)
    traces["icarus"] = [w for w in run.stdout.split() if w.lstrip("-").isdigit()]
    return traces


def passes_in_every_simulator(package: Any, bad_vectors: Path, value_count: int) -> None:
    """The package's testbench passes in GHDL, Icarus and Verilator on both stimuli, comparing `value_count`
    values, and each simulator fails the vectors in `bad_vectors` (a negative control)."""
    from workbench.verify.check import ALL_SIMULATORS, built_testbench
    from workbench.verify.simulators import require_pass
    from workbench.verify.vectors import STIMULUS, STIMULUS_GAPS

    for simulator in ALL_SIMULATORS:
        with built_testbench(package, simulator) as run:
            for stimulus in (STIMULUS, STIMULUS_GAPS):
                require_pass(run(stimulus), value_count)
            verdict = run(STIMULUS, bad_vectors)
            assert not verdict.passed and verdict.mismatches > 0, simulator

"""The one stream layer: packing, gap schedules and the clock/reset drive every simulation uses."""
from __future__ import annotations

import numpy as np
import pytest
from myhdl import ResetSignal, Signal, StopSimulation, always, block, instance, intbv

from workbench.errors import ConfigError
from workbench.verify import beats


def test_pack_and_unpack_are_inverse_for_signed_and_unsigned_fields():
    rng = np.random.default_rng(0)
    widths = [3, 8, 1, 12, 5]
    signed = [True, False, False, True, True]
    rows = [[int(rng.integers(-(1 << (w - 1)), 1 << (w - 1))) if s else int(rng.integers(0, 1 << w))
             for w, s in zip(widths, signed)] for _ in range(200)]
    assert [beats.unpack(beats.pack(row, widths), widths, signed) for row in rows] == rows
    negative = next(row for row in rows if row[0] < 0)
    assert beats.unpack(beats.pack(negative, widths), widths, [False] * 5)[0] == negative[0] + 8  # control


def test_unpack_lanes_reads_what_pack_lanes_wrote():
    values = np.array([[-4, 3, 0, -1], [1, -2, 2, 3]])
    words = [beats.pack_lanes(row, 3) for row in values]
    assert words[0] == 0b111_000_011_100
    np.testing.assert_array_equal(beats.unpack_lanes(words, 4, 3), values)
    np.testing.assert_array_equal(beats.unpack_lanes(words, 4, 3, signed=False), values % 8)


def test_gap_schedule_is_seeded_and_idle_runs_are_one_to_three_clocks():
    gaps = beats.gap_schedule(2000, seed=4, share=0.3)
    assert gaps == beats.gap_schedule(2000, seed=4, share=0.3)
    assert gaps != beats.gap_schedule(2000, seed=5, share=0.3)
    assert set(gaps) == {0, 1, 2, 3}
    assert 0.25 < np.count_nonzero(gaps) / len(gaps) < 0.35
    assert beats.gap_schedule(50, seed=None) == beats.gap_schedule(50, seed=4, share=0.0) == [0] * 50


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_gap_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ConfigError, match=rf"gap share {share}; allowed: a number in \[0, 1\]"):
        beats.gap_schedule(10, seed=1, share=share)


@pytest.mark.parametrize("lanes, gap_seed", [(1, None), (4, 2)])
def test_profile_clocks_carry_every_pixel_once_with_zero_idle_clocks(lanes, gap_seed):
    profiles = np.random.default_rng(1).integers(0, 1024, size=(5, 16))
    clocks = beats.profile_clocks(profiles, lanes, 10, gap_seed)
    valid = [clock for clock in clocks if clock[0]]
    idle = [clock for clock in clocks if not clock[0]]
    assert all(clock == beats.IDLE for clock in idle)
    assert (len(idle) > 0) == (gap_seed is not None)
    got = beats.unpack_lanes([clock[3] for clock in valid], lanes, 10, signed=False).reshape(profiles.shape)
    np.testing.assert_array_equal(got, profiles)
    per_profile = 16 // lanes
    assert [clock[1] for clock in valid] == [int(i % per_profile == 0) for i in range(len(valid))]
    assert [clock[2] for clock in valid] == [int(i % per_profile == per_profile - 1) for i in range(len(valid))]


def test_drive_clocks_gives_reset_edges_then_one_line_per_edge():
    """Rising edges 1..RESET_CYCLES see reset; edge RESET_CYCLES + 1 + k samples line k, as in the
    HDL testbenches; `after_edge` sees edge k's registered outputs."""
    clocks = beats.profile_clocks(np.arange(24).reshape(3, 8), 2, 8, gap_seed=3) + [beats.IDLE] * 2
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    valid, first, last, data = Signal(bool(0)), Signal(bool(0)), Signal(bool(0)), Signal(intbv(0)[16:])
    registered = Signal(intbv(0)[16:])
    sampled: list[tuple[int, int, int, int, int]] = []
    after: list[tuple[int, int]] = []

    @block
    def bench():
        @always(clk.posedge)
        def sample():
            sampled.append((int(rst), int(valid), int(first), int(last), int(data)))
            registered.next = data

        @instance
        def drive():
            yield from beats.drive_clocks(clk, rst, valid, first, last, data, clocks,
                                          lambda edge: after.append((edge, int(registered))))
            raise StopSimulation

        return sample, drive

    bench().run_sim(quiet=1)
    reset_edges = beats.RESET_CYCLES
    assert len(sampled) == reset_edges + len(clocks) and reset_edges == 4
    assert sampled[:reset_edges] == [(1, 0, 0, 0, 0)] * reset_edges
    assert [edge[1:] for edge in sampled[reset_edges:]] == [tuple(clock) for clock in clocks]
    assert all(edge[0] == 0 for edge in sampled[reset_edges:])
    assert after == [(k, clocks[k][3] if k >= 0 else 0) for k in range(-reset_edges, len(clocks))]

"""Each hardware block on its own: CSD digits, window padding, constant-coefficient layers, requantizer, divider."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, strategies as st
from myhdl import Signal, always, always_comb, block, intbv

from hw_bench import run_stream_block, unpack
from workbench.qnn import golden
from workbench.qnn.contract import load_network
from workbench.hw.csd import csd_digits
from workbench.hw.divider import divider, quotient_bits
from workbench.hw.mac import conv_layer, conv_stream
from workbench.hw.requant import requant_stream, requantizer, uses_thresholds
from workbench.hw.stream import Fmt, new_stream
from workbench.hw.window import window, window_latency, window_stream
from workbench.qnn.randnet import random_document
from workbench.verify.beats import pack


@given(st.integers(-(1 << 20), 1 << 20))
def test_csd_digits_sum_to_value_and_are_non_adjacent(value: int) -> None:
    digits = csd_digits(value)
    assert sum(sign << shift for shift, sign in digits) == value
    shifts = [shift for shift, _ in digits]
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))
    assert len(digits) <= (abs(value).bit_length() + 2) // 2


def test_csd_weights_of_four_bits_need_at_most_two_terms() -> None:
    assert max(len(csd_digits(w)) for w in range(-7, 8)) == 2


def _beats(profiles: np.ndarray, lanes: int) -> tuple[list[list[int]], list[bool], list[bool]]:
    n, length = profiles.shape
    beats = length // lanes
    values = [list(profiles[i, b * lanes:(b + 1) * lanes]) for i in range(n) for b in range(beats)]
    firsts = [b == 0 for _ in range(n) for b in range(beats)]
    lasts = [b == beats - 1 for _ in range(n) for b in range(beats)]
    return values, firsts, lasts


@pytest.mark.parametrize("lanes,half", [(1, 1), (1, 3), (2, 2), (4, 1), (4, 5), (8, 3)])
def test_window_holds_neighbours_with_zero_padding(lanes: int, half: int) -> None:
    rng = np.random.default_rng(lanes * 10 + half)
    length, n = 4 * lanes if lanes > 2 else 8, 4
    profiles = rng.integers(-8, 8, size=(n, length))
    inp = new_stream([Fmt(-8, 7)] * lanes, lanes)
    out = window_stream(inp, half)
    values, firsts, lasts = _beats(profiles, lanes)
    words = [pack(v, [4] * lanes) for v in values]
    gaps = list(rng.integers(0, 3, size=len(words)))
    got = run_stream_block(partial(window, inp=inp, out=out, half=half), inp, out, words, firsts, lasts, gaps)
    padded = np.pad(profiles, ((0, 0), (half, half)))
    expected = [list(padded[i, b * lanes:b * lanes + lanes + 2 * half])
                for i in range(n) for b in range(length // lanes)]
    assert len(got) == len(expected) == n * length // lanes
    assert [unpack(w, out) for w in got] == expected
    assert window_latency(half, lanes) == -(-half // lanes) + 1


def _random_layer(seed: int, kernel: int, dense: bool = False):
    rng = np.random.default_rng(seed)
    doc = random_document(rng, n_weight_layers=2, kernel_sizes=(kernel,), max_channels=3, input_bits=8)
    return load_network(doc)


@pytest.mark.parametrize("lanes,kernel,stages", [(1, 5, 1), (2, 3, 2), (4, 1, 1), (4, 7, 3)])
def test_conv_layer_matches_golden_accumulators(lanes: int, kernel: int, stages: int) -> None:
    network = _random_layer(lanes + kernel, kernel)
    layer = network.layers[0]
    rng = np.random.default_rng(kernel)
    length, n = 8, 5
    profiles = rng.integers(0, 256, size=(n, length))
    profiles[0] = 255
    profiles[1] = 0
    inp = new_stream([Fmt(0, 255, raw=True)] * lanes, lanes)
    out = conv_stream(layer, lanes)
    values, firsts, lasts = _beats(profiles, lanes)
    words = [pack(v, [8] * lanes) for v in values]
    got = run_stream_block(partial(conv_layer, inp=inp, out=out, layer=layer, pipeline_stages=stages), inp, out,
                           words, firsts, lasts)
    expected = golden.conv(layer, profiles[:, :, None], 255)
    hardware = np.array([unpack(w, out) for w in got]).reshape(n, length, layer.out_channels)
    np.testing.assert_array_equal(hardware, expected)


@pytest.mark.parametrize("threshold_bits", [0, 8])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_requantizer_matches_golden_on_random_and_extreme_accumulators(seed: int, threshold_bits: int) -> None:
    network = _random_layer(seed, 3)
    conv, requant = network.layers[0], network.layers[1]
    channels, lanes = conv.out_channels, 2
    rng = np.random.default_rng(seed)
    acc = rng.integers(conv.acc_min, conv.acc_max + 1, size=(40, channels))
    acc[0], acc[1] = conv.acc_min, conv.acc_max
    ties = (np.arange(-3, 3)[:, None] << requant.shift) // np.maximum(requant.multiplier, 1)
    acc[2:8] = np.clip(ties, conv.acc_min, conv.acc_max)
    inp = new_stream([Fmt(int(lo), int(hi)) for lo, hi in zip(conv.acc_min, conv.acc_max)] * lanes, lanes)
    out = requant_stream(requant, lanes)
    pairs = acc.reshape(-1, lanes * channels)
    words = [pack(row, [f.width for f in inp.fields]) for row in pairs]
    got = run_stream_block(partial(requantizer, inp=inp, out=out, layer=requant, pipeline_stages=2,
                                   threshold_bits=threshold_bits), inp, out,
                           words, [True] * len(words), [True] * len(words))
    hardware = np.array([unpack(w, out) for w in got]).reshape(-1, channels)
    np.testing.assert_array_equal(hardware, golden.requantize(requant, acc))
    assert uses_thresholds(requant, threshold_bits) == (threshold_bits == 8 and not requant.signed
                                                        and bool(np.all(requant.multiplier > 0)))


def test_divider_gives_floor_quotients_one_per_clock() -> None:
    rng = np.random.default_rng(5)
    qmax, y_max = 40, 300
    pairs = [(0, 1), (qmax, 1), (qmax * y_max + y_max - 1, y_max)]
    for _ in range(60):
        y = int(rng.integers(1, y_max + 1))
        pairs.append((int(rng.integers(0, y * (qmax + 1))), y))
    x_max = max(x for x, _ in pairs)
    qbits = quotient_bits(qmax)
    x, y = Signal(intbv(0, min=-(1 << 20), max=1 << 20)), Signal(intbv(0, min=-(1 << 12), max=1 << 12))
    tag, q_tag = Signal(intbv(0)[8:]), Signal(intbv(0)[8:])
    inp = new_stream([Fmt(0, x_max), Fmt(0, y_max)], 1)
    q = Signal(intbv(0)[qbits:])
    out = new_stream([Fmt(0, 255, raw=True)], 1)  # only its valid flag is used
    words = list(range(len(pairs)))
    results: list[tuple[int, int]] = []

    @block
    def bench(clk, rst):
        @always_comb
        def operands():
            xi, yi = pairs[int(inp.data.val)]
            x.next = xi
            y.next = yi
            tag.next = inp.data

        @always(clk.posedge)
        def watch():
            if out.valid:
                results.append((int(q_tag.val), int(q.val)))

        return operands, watch, divider(clk, rst, x, y, tag, inp.valid, q, q_tag, out.valid, x_max, y_max, qmax)

    run_stream_block(bench, inp, out, words, [True] * len(words), [True] * len(words))
    assert len(results) == len(pairs)
    for index, quotient in results:
        px, py = pairs[index]
        assert quotient == px // py, (px, py)

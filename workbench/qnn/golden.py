"""The golden integer model: `qnn-int/1` computed exactly, compiled by numba, over a batch of profiles.

It is the reference every other implementation (Keras integer mode, MyHDL, GHDL, Icarus) is checked
against, and the evaluator for whole datasets. Every value is an integer. Activations travel as
zero-padded `(N, C, L + 2P)` rows. Each layer is one compiled, single-threaded loop (parallel work
belongs to processes, such as the sweep's Dask workers) that adds shifted input rows times their
weights into each output row, four taps per pass (no materialised windows, zero weights skipped),
then applies the following requantizer to the row while it is in cache.

The accumulator type is chosen from the contract's bounds: int16 when every accumulator bound lies in
[-2^15, 2^15) (a partial sum is the bias plus some of the terms, each between 0 and its extreme, so
it lies within the bounds too); else float32 when the worst partial sum of every layer is below
2^24, float64 below 2^53, int64 otherwise: each sum is an integer the type holds exactly, whatever
the order. Requantization is computed in float64, exact because the contract bounds every
accumulator and product by 2^52 and the scaling by `2^-shift` is exact. The head's divisions use
Python integers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from workbench.qnn.contract import ConvLayer, Network, PeakHead, RequantLayer
from workbench.errors import ConfigError

INT16_LIMIT = 1 << 15
FLOAT32_EXACT_LIMIT = 1 << 24
FLOAT64_EXACT_LIMIT = 1 << 53


@dataclass(frozen=True)
class GoldenResult:
    """Scores `(N, L)` and the head's `(found, pos)` per profile."""

    scores: np.ndarray
    found: np.ndarray
    pos: np.ndarray


def check_profiles(network: Network, profiles: np.ndarray) -> np.ndarray:
    """The profiles as int64 `(N, L)`, after checking shape and the input range."""
    array = np.asarray(profiles)
    if array.ndim != 2 or array.shape[1] < 1:
        raise ConfigError(f"profiles must be a 2-D array (N, L), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"profiles must hold integers, got dtype {array.dtype}")
    lo, hi = network.input_range
    if array.size and (array.min() < lo or array.max() > hi):
        bad = array.min() if array.min() < lo else array.max()
        raise ConfigError(f"profile value {bad} is outside the {network.input_bits}-bit input range [{lo}, {hi}]")
    return array.astype(np.int64)


def conv_worst(layer: ConvLayer, in_magnitude: int) -> int:
    """A bound on every partial sum of the layer: `|bias| + sum |w| * in_magnitude`, largest channel."""
    return int(np.abs(layer.weights).sum(axis=(0, 1)).max()) * in_magnitude + int(np.abs(layer.bias).max())


def exact_dtype(worst: int) -> type:
    """The fastest accumulator type whose sums are exact for integers up to `worst` in magnitude."""
    if worst < FLOAT32_EXACT_LIMIT:
        return np.float32
    return np.float64 if worst < FLOAT64_EXACT_LIMIT else np.int64


def network_dtype(network: Network) -> type:
    """The accumulator type of the whole network: int16 when every accumulator bound lies in
    `[-2^15, 2^15)` (every partial sum then lies within the bounds), else the type exact for the worst
    partial sum of any layer."""
    if all(int(layer.acc_min.min()) >= -INT16_LIMIT and int(layer.acc_max.max()) < INT16_LIMIT
           for layer in network.conv_layers):
        return np.int16
    magnitude, worst = network.input_range[1], 0
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            worst = max(worst, conv_worst(layer, magnitude))
        else:
            magnitude = max(abs(layer.lo), abs(layer.hi))
    return exact_dtype(worst)


@numba.njit(cache=True, nogil=True)
def _requantize_row(row: np.ndarray, multiplier: float, rounding: float, scale: float, lo: float, hi: float) -> None:
    """`row = clip(floor((row * multiplier + rounding) * scale), lo, hi)` in place, computed in float64."""
    for i in range(row.shape[0]):
        value = np.floor((np.float64(row[i]) * multiplier + rounding) * scale)
        row[i] = min(max(value, lo), hi)


@numba.njit(cache=True, nogil=True)
def _layer_kernel(x: np.ndarray, pad: int, weight: np.ndarray, channel: np.ndarray, start: np.ndarray,
                  count: np.ndarray, bias: np.ndarray, out: np.ndarray, requant: bool, multiplier: np.ndarray,
                  rounding: float, scale: float, lo: float, hi: float) -> None:
    """`out[n, o, pad + i] = bias[o] + sum_j weight[o, j] * x[n, channel[o, j], start[o, j] + i]` over the
    `count[o]` non-zero taps of output `o` (rows zero padded by `pad`), four taps per pass over the row,
    then requantized when `requant`. Every partial sum is a sum of a subset of the terms and the bias."""
    length = x.shape[2] - 2 * pad
    for n in range(x.shape[0]):
        for o in range(out.shape[1]):
            row = out[n, o, pad:pad + length]
            row[:] = bias[o]
            j = 0
            while j + 4 <= count[o]:
                s0 = x[n, channel[o, j], start[o, j]:start[o, j] + length]
                s1 = x[n, channel[o, j + 1], start[o, j + 1]:start[o, j + 1] + length]
                s2 = x[n, channel[o, j + 2], start[o, j + 2]:start[o, j + 2] + length]
                s3 = x[n, channel[o, j + 3], start[o, j + 3]:start[o, j + 3] + length]
                w0, w1, w2, w3 = weight[o, j], weight[o, j + 1], weight[o, j + 2], weight[o, j + 3]
                for i in range(length):  # indices from 0: no wrap-around check, vectorised
                    row[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i]
                j += 4
            while j < count[o]:
                s0 = x[n, channel[o, j], start[o, j]:start[o, j] + length]
                w0 = weight[o, j]
                for i in range(length):
                    row[i] += w0 * s0[i]
                j += 1
            if requant:
                _requantize_row(row, multiplier[o], rounding, scale, lo, hi)


@numba.njit(cache=True, nogil=True)
def _requant_kernel(acc: np.ndarray, pad: int, multiplier: np.ndarray, rounding: float, scale: float, lo: float,
                    hi: float) -> None:
    """Requantize `acc[n, c, pad:-pad]` in place, channel `c` with `multiplier[c]`; the padding stays."""
    length = acc.shape[2] - 2 * pad
    for n in range(acc.shape[0]):
        for c in range(acc.shape[1]):
            _requantize_row(acc[n, c, pad:pad + length], multiplier[c], rounding, scale, lo, hi)


def _requant_args(layer: RequantLayer) -> tuple:
    return (layer.multiplier.astype(np.float64), float(layer.rounding), 2.0 ** -layer.shift,
            float(layer.lo), float(layer.hi))


_NO_REQUANT = (np.zeros(1), 0.0, 1.0, 0.0, 0.0)


def _taps(layer: ConvLayer, dtype: type, pad: int) -> tuple[np.ndarray, ...]:
    """Per output channel, its non-zero weights `(O, M)`, the input channel and padded start column each
    reads, and how many there are."""
    half = (layer.kernel_size - 1) // 2
    t, c, o = np.nonzero(layer.weights)
    order = np.argsort(o, kind="stable")
    t, c, o = t[order], c[order], o[order]
    count = np.bincount(o, minlength=layer.out_channels)
    rank = np.arange(o.size) - np.repeat(np.cumsum(count) - count, count)
    shape = (layer.out_channels, max(1, int(count.max(initial=0))))
    weight, channel, start = np.zeros(shape, dtype=dtype), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    weight[o, rank], channel[o, rank], start[o, rank] = layer.weights[t, c, o], c, pad + t - half
    return weight, channel, start, count


def _layer(layer: ConvLayer, x: np.ndarray, pad: int, requant: RequantLayer | None) -> np.ndarray:
    """One conv/dense layer on zero-padded rows `x[n, c, pad + i]` (the accumulator type), with its
    requantizer if given; the output is padded the same way."""
    out = np.empty((x.shape[0], layer.out_channels, x.shape[2]), dtype=x.dtype)
    out[:, :, :pad] = 0  # the kernel writes every value between the paddings
    out[:, :, x.shape[2] - pad:] = 0
    args = _NO_REQUANT if requant is None else _requant_args(requant)
    _layer_kernel(x, pad, *_taps(layer, x.dtype, pad), layer.bias.astype(x.dtype), out, requant is not None, *args)
    return out


def _padded(x: np.ndarray, pad: int, dtype: type) -> np.ndarray:
    """`x[n, c, i]` into zero-padded rows `(N, C, L + 2 pad)` of `dtype`."""
    out = np.zeros(x.shape[:2] + (x.shape[2] + 2 * pad,), dtype=dtype)
    out[:, :, pad:pad + x.shape[2]] = x
    return out


def conv(layer: ConvLayer, x: np.ndarray, in_magnitude: int) -> np.ndarray:
    """`acc[n, i, o]` (int64) of a qconv1d/qdense layer over `x[n, i, c]` (inputs up to `in_magnitude`)."""
    dtype = exact_dtype(conv_worst(layer, in_magnitude))
    pad, length = (layer.kernel_size - 1) // 2, np.shape(x)[1]
    acc = _layer(layer, _padded(np.asarray(x).transpose(0, 2, 1), pad, dtype), pad, None)
    return acc[:, :, pad:pad + length].transpose(0, 2, 1).astype(np.int64)


def requantize(layer: RequantLayer, acc: np.ndarray) -> np.ndarray:
    """`clip(floor((acc * multiplier + r) / 2^shift), lo, hi)` per channel (the last axis), int64."""
    acc = np.asarray(acc, dtype=np.int64)
    rows = np.ascontiguousarray(acc.reshape(1, -1, acc.shape[-1]).transpose(0, 2, 1), dtype=np.float64)
    _requant_kernel(rows, 0, *_requant_args(layer))
    return rows.transpose(0, 2, 1).reshape(acc.shape).astype(np.int64)


def _forward(network: Network, profiles: np.ndarray, *, every_layer: bool) -> list[np.ndarray]:
    """Layer outputs `(N, C, L)` in the network's accumulator type: every layer's when `every_layer`,
    else only the scores (each requantizer then runs inside its layer's pass)."""
    profiles = check_profiles(network, profiles)
    length = profiles.shape[1]
    pad = max((layer.kernel_size - 1) // 2 for layer in network.conv_layers)
    x = _padded(profiles[:, None, :], pad, network_dtype(network))
    layers = network.layers
    outputs = []
    for index, layer in enumerate(layers):
        if isinstance(layer, RequantLayer):
            if every_layer:
                x = x.copy()
                _requant_kernel(x, pad, *_requant_args(layer))
                outputs.append(x)
            continue
        following = layers[index + 1] if index + 1 < len(layers) and not every_layer else None
        x = _layer(layer, x, pad, following)
        outputs.append(x)
    return [out[:, :, pad:pad + length] for out in outputs]


def layer_outputs(network: Network, profiles: np.ndarray) -> list[np.ndarray]:
    """Every layer's output `(N, L, C)` as int64, in order; the last one holds the scores."""
    return [out.transpose(0, 2, 1).astype(np.int64) for out in _forward(network, profiles, every_layer=True)]


def scores(network: Network, profiles: np.ndarray) -> np.ndarray:
    """The score `s[n, i]` (the last layer's accumulator), int64."""
    return _forward(network, profiles, every_layer=False)[-1][:, 0, :].astype(np.int64)


def rdiv(num: np.ndarray, den: np.ndarray, frac_bits: int) -> np.ndarray:
    """`sign(n) * floor((2|n| * 2^F + d) / (2d))` element-wise, 0 where `d == 0` (Python integers)."""
    num = num.astype(object)
    den = den.astype(object)
    safe = np.where(den == 0, 1, den)
    magnitude = (2 * np.abs(num) * (1 << frac_bits) + safe) // (2 * safe)
    out = np.where(num < 0, -magnitude, magnitude)
    return np.where(den == 0, 0, out).astype(np.int64)


def peak_head(head: PeakHead, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(found, pos)` per profile from scores `(N, L)`, `pos` in units of `2^-frac_bits` pixel."""
    score = np.asarray(score, dtype=np.int64)
    n = score.shape[0]
    rows = np.arange(n)
    p = np.argmax(score, axis=1)  # the first index of the maximum
    found = score[rows, p] >= head.threshold
    if head.refine == "parabolic":
        delta = _parabolic_delta(score, p, head.frac_bits)
    elif head.refine == "centroid":
        delta = _centroid_delta(score, p, head.window, head.frac_bits)
    else:
        delta = np.zeros(n, dtype=np.int64)
    pos = np.where(found, p * (1 << head.frac_bits) + delta, 0).astype(np.int64)
    return found, pos


def _parabolic_delta(score: np.ndarray, p: np.ndarray, frac_bits: int) -> np.ndarray:
    n, length = score.shape
    rows = np.arange(n)
    interior = (p > 0) & (p < length - 1)
    a = score[rows, np.clip(p - 1, 0, length - 1)].astype(object)
    b = score[rows, p].astype(object)
    c = score[rows, np.clip(p + 1, 0, length - 1)].astype(object)
    delta = rdiv(c - a, 2 * (2 * b - a - c), frac_bits)
    return np.where(interior, delta, 0)


def _centroid_delta(score: np.ndarray, p: np.ndarray, window: int, frac_bits: int) -> np.ndarray:
    n, length = score.shape
    offsets = np.arange(-window, window + 1)
    index = p[:, None] + offsets[None, :]
    valid = (index >= 0) & (index < length)
    values = np.take_along_axis(score, np.clip(index, 0, length - 1), axis=1)
    low = np.where(valid, values, np.iinfo(np.int64).max).min(axis=1)
    weights = np.where(valid, values - low[:, None], 0)
    num = (weights * offsets[None, :]).sum(axis=1)
    den = weights.sum(axis=1)
    return rdiv(num, den, frac_bits)


def run_golden(network: Network, profiles: np.ndarray) -> GoldenResult:
    """Scores and head results of the network on a batch of profiles."""
    score = scores(network, profiles)
    found, pos = peak_head(network.head, score)
    return GoldenResult(score, found, pos)

"""The golden integer model: `qnn-int/1` computed exactly in numpy, vectorised over a batch.

It is the reference every other implementation (Keras integer mode, MyHDL, GHDL, Icarus) is checked
against, and the evaluator for whole datasets. Every value is an integer; activations travel between
layers as float64, which holds them exactly (the contract bounds them by 2^52). Convolutions use
float32 or float64 matrix products where every partial sum is provably below 2^24 or 2^53 (exact
and BLAS-fast), int64 otherwise; requantization is exact in float64 (`prod` is bounded by 2^52 and
the scaling by `2^-shift` is exact); the head's divisions use Python integers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.qnn.contract import ConvLayer, Network, PeakHead, RequantLayer
from workbench.errors import ConfigError

FLOAT32_EXACT_LIMIT = 1 << 24
FLOAT64_EXACT_LIMIT = 1 << 53
CHUNK_VALUES = 1 << 22  # unfolded values per matrix product, bounds the memory used


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


def exact_dtype(worst: int) -> type:
    """The fastest dtype whose sums are exact for integers up to `worst` in magnitude."""
    if worst < FLOAT32_EXACT_LIMIT:
        return np.float32
    return np.float64 if worst < FLOAT64_EXACT_LIMIT else np.int64


def conv(layer: ConvLayer, x: np.ndarray, in_magnitude: int) -> np.ndarray:
    """`acc[n, i, o]` (float64, exact) of a qconv1d/qdense layer over `x[n, i, c]` with zero padding.

    One matrix product per chunk of profiles over the unfolded windows `(n*L, k*cin)`.
    """
    n, length, channels = x.shape
    k = layer.kernel_size
    half = (k - 1) // 2
    worst = int(np.abs(layer.weights).sum(axis=(0, 1)).max()) * in_magnitude + int(np.abs(layer.bias).max())
    dtype = exact_dtype(worst)
    weights = layer.weights.reshape(k * channels, layer.out_channels).astype(dtype)
    bias = layer.bias.astype(dtype)
    acc = np.empty((n, length, layer.out_channels), dtype=np.float64)
    chunk = max(1, CHUNK_VALUES // (length * k * channels))
    for start in range(0, n, chunk):
        part = np.pad(x[start:start + chunk], ((0, 0), (half, half), (0, 0))).astype(dtype)
        windows = np.lib.stride_tricks.sliding_window_view(part, k, axis=1)  # (m, L, cin, k)
        unfolded = windows.transpose(0, 1, 3, 2).reshape(-1, k * channels)
        acc[start:start + chunk] = (unfolded @ weights + bias).reshape(-1, length, layer.out_channels)
    return acc


def requantize(layer: RequantLayer, acc: np.ndarray) -> np.ndarray:
    """`clip(floor((acc * multiplier + r) / 2^shift), lo, hi)` per channel (round half up), float64 exact."""
    prod = acc * layer.multiplier.astype(np.float64) + float(layer.rounding)
    return np.clip(np.floor(prod * 2.0 ** -layer.shift), layer.lo, layer.hi)


def _forward(network: Network, profiles: np.ndarray) -> list[np.ndarray]:
    x = check_profiles(network, profiles).astype(np.float64)[:, :, None]
    magnitude = network.input_range[1]
    outputs = []
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            x = conv(layer, x, magnitude)
        else:
            x = requantize(layer, x)
            magnitude = max(abs(layer.lo), abs(layer.hi))
        outputs.append(x)
    return outputs


def layer_outputs(network: Network, profiles: np.ndarray) -> list[np.ndarray]:
    """Every layer's output `(N, L, C)` as int64, in order; the last one holds the scores."""
    return [out.astype(np.int64) for out in _forward(network, profiles)]


def scores(network: Network, profiles: np.ndarray) -> np.ndarray:
    """The score `s[n, i]` (the last layer's accumulator), int64."""
    return _forward(network, profiles)[-1][:, :, 0].astype(np.int64)


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

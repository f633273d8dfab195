"""Random valid `qnn-int/1` documents (and `qnn-int/2` refinements) for property-based tests and for
hardware without a trained model.

The multipliers and shifts are chosen so that each requantizer maps a random part of its
accumulator range onto its output range: outputs are neither all clipped nor all zero, so random
networks exercise every rule of the contract.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.qnn.contract import (FORMAT, MAX_SHIFT, MULTIPLIER_LIMIT, REFINES, Document, conv_acc_range,
                                fill_ranges)
from workbench.qnn.refinement import AdaptiveRefinement, Refinement


def random_document(rng: np.random.Generator, *, n_weight_layers: int | None = None, max_channels: int = 4,
                    kernel_sizes: tuple[int, ...] = (1, 3, 5), input_bits: int | None = None,
                    bits: tuple[int, int] = (2, 8), refine: str | None = None,
                    extreme_weights: bool = False, frac_bits: int | None = None) -> Document:
    """A random, valid network document with its ranges filled.

    `extreme_weights` puts every weight at `+-(2^(b-1) - 1)`; `bits` bounds weight and activation widths.
    """
    layers_n = int(rng.integers(1, 4)) if n_weight_layers is None else n_weight_layers
    in_bits = int(rng.choice([8, 10, 12])) if input_bits is None else input_bits
    lo, hi = 0, (1 << in_bits) - 1
    channels = 1
    layers: list[dict[str, Any]] = []
    for index in range(layers_n):
        last = index == layers_n - 1
        out_channels = 1 if last else int(rng.integers(1, max_channels + 1))
        kernel = int(rng.choice(kernel_sizes))
        dense = kernel == 1 and channels > 1 and bool(rng.integers(0, 2))
        weight_bits = int(rng.integers(bits[0], bits[1] + 1))
        limit = (1 << (weight_bits - 1)) - 1
        shape = (kernel, channels, out_channels)
        if extreme_weights:
            weights = limit * rng.choice([-1, 1], size=shape)
        else:
            weights = rng.integers(-limit, limit + 1, size=shape)
        free_min, free_max = conv_acc_range(weights, np.zeros(out_channels, dtype=np.int64), lo, hi)
        centre = (np.array(free_min) + np.array(free_max)) / 2
        bias = np.round(-centre * rng.uniform(0.5, 1.5, size=out_channels)).astype(np.int64)
        entry: dict[str, Any] = {
            "type": "qdense" if dense else "qconv1d", "name": f"{'mix' if dense else 'conv'}{index}",
            "in_channels": channels, "out_channels": out_channels, "weight_bits": weight_bits,
            "weights": (weights[0] if dense else weights).tolist(), "bias": bias.tolist()}
        if not dense:
            entry["kernel_size"] = kernel
        layers.append(entry)
        if last:
            break
        acc_min, acc_max = conv_acc_range(weights, bias, lo, hi)
        act_bits = int(rng.integers(bits[0], bits[1] + 1))
        signed = bool(rng.integers(0, 2))
        multiplier, shift = _scaling(rng, acc_min, acc_max, act_bits)
        layers.append({"type": "requantizer", "name": f"act{index}", "bits": act_bits, "signed": signed,
                       "multiplier": multiplier, "shift": shift})
        lo, hi = ((-(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1) if signed else (0, (1 << act_bits) - 1))
        channels = out_channels
    doc = {"format": FORMAT, "input": {"bits": in_bits}, "layers": layers,
           "head": {"type": "peak", "refine": refine or str(rng.choice(REFINES)),
                    "window": int(rng.integers(1, 4)), "threshold": 0,
                    "frac_bits": int(rng.integers(0, 9)) if frac_bits is None else frac_bits}}
    doc = fill_ranges(doc)
    score_lo, score_hi = doc["layers"][-1]["acc_min"][0], doc["layers"][-1]["acc_max"][0]
    doc["head"]["threshold"] = int(rng.integers(score_lo, score_hi + 1)) // 4
    return doc


def _scaling(rng: np.random.Generator, acc_min: list[int], acc_max: list[int], act_bits: int) -> tuple[list[int], int]:
    """Per-channel multipliers and one shift so that a random slice of each range spans the output."""
    spans = [max(hi - lo, 1) for lo, hi in zip(acc_min, acc_max)]
    target = [max(1.0, span * np.exp(rng.uniform(np.log(0.01), np.log(0.5)))) for span in spans]  # acc change that spans the output
    ideal = [(1 << act_bits) / t for t in target]  # wanted multiplier / 2^shift
    shift = int(np.clip(np.floor(np.log2((MULTIPLIER_LIMIT - 1) / max(ideal))), 0, MAX_SHIFT))
    multiplier = [int(np.clip(round(s * (1 << shift)), 0, MULTIPLIER_LIMIT - 1)) for s in ideal]
    return multiplier, shift


def random_taps(rng: np.random.Generator, max_half: int = 6, max_tap: int = 7) -> tuple[int, ...]:
    """Random antisymmetric integer taps (`1..max_half` on each side of a 0, `|tap| <= max_tap`) with a
    positive first moment, as `Refinement` requires."""
    half = int(rng.integers(1, max_half + 1))
    right = np.zeros(half, dtype=np.int64)
    while np.dot(np.arange(1, half + 1), right) <= 0:
        right = rng.integers(-max_tap, max_tap + 1, size=half)
    return tuple(int(v) for v in [*(-right[::-1]), 0, *right])


def random_refinement(rng: np.random.Generator, adaptive: bool, frac_bits: int | None = None,
                      max_members: int = 4, max_edges: int = 7) -> Refinement | AdaptiveRefinement:
    """A random fixed refinement, or an adaptive one: a bank of random members sharing one frac_bits,
    ascending edges in [0, 100] (units of 1/64: the width ratio's useful span) and a random member per bin."""
    frac = int(rng.integers(0, 9)) if frac_bits is None else frac_bits
    if not adaptive:
        return Refinement("random", random_taps(rng), frac)
    bank = tuple(Refinement(f"member{i}", random_taps(rng), frac) for i in range(int(rng.integers(1, max_members + 1))))
    edges = tuple(sorted(int(e) for e in rng.integers(0, 101, size=int(rng.integers(0, max_edges + 1)))))
    choice = tuple(int(c) for c in rng.integers(0, len(bank), size=len(edges) + 1))
    return AdaptiveRefinement("random_adaptive", bank, edges, choice)

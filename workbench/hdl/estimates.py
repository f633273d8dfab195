"""Hardware estimates: an analytical LUT/FF model from the network alone, and the rows of
`tables/hardware.csv` that combine it with Yosys counts and the pre-route clock estimate.

Analytical model (per lane, every constant product as shift-and-add in canonical signed digits):
- a conv/dense output channel with D nonzero CSD digits over all its weights (plus a nonzero
  bias) needs D - 1 (+1) two-input adders of the channel's accumulator width, one LUT per bit
  (the carry goes through CARRY4);
- a requantizer channel costs the cheaper of a CSD multiplier (digits of `multiplier` - 1 adders
  of accumulator + 16 bits, plus an accumulator-wide clip) and `2^bits - 1` constant comparisons
  of about a quarter LUT per accumulator bit each;
- registers: every accumulator once per layer, the convolution window of each layer, and the head
  (running max, neighbours and a pipelined divider of F + 2 stages).
The head is counted once, the rest P times. It ignores LUT packing, constant folding and the
adder trees' real shape: it is a sanity check of the Yosys numbers, not a substitute.

Throughput = P x estimated clock; operations per pixel = 2 x MACs; TOPS = ops x pixel rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.qnn.contract import ConvLayer, Network, RequantLayer, bit_width
from workbench.hw.csd import csd_digits

PAPER_GPIX_PER_S = 4.0  # Pistellato et al.'s design point
MULTIPLIER_BITS = 16


def csd_count(value: int) -> int:
    """Nonzero digits of `value` in canonical signed-digit form (the shift-and-add terms)."""
    return len(csd_digits(value))


@dataclass(frozen=True)
class AnalyticEstimate:
    """Analytical LUTs and FFs of one lane's datapath and of the shared head."""

    lane_luts: int
    lane_ffs: int
    head_luts: int
    head_ffs: int

    def luts(self, lanes: int) -> int:
        """LUTs at `lanes` lanes."""
        return lanes * self.lane_luts + self.head_luts

    def ffs(self, lanes: int) -> int:
        """FFs at `lanes` lanes."""
        return lanes * self.lane_ffs + self.head_ffs


def _conv_cost(layer: ConvLayer, in_bits: int) -> tuple[int, int]:
    luts = ffs = 0
    digits = np.vectorize(csd_count)(layer.weights).sum(axis=(0, 1)) if layer.weights.size else []
    for o in range(layer.out_channels):
        width = bit_width(layer.acc_min[o], layer.acc_max[o])
        adders = max(int(digits[o]) - 1 + int(layer.bias[o] != 0), 0)
        luts += adders * width
        ffs += width
    ffs += (layer.kernel_size - 1) * layer.in_channels * in_bits
    return luts, ffs


def _requant_cost(layer: RequantLayer, acc_widths: list[int]) -> tuple[int, int]:
    luts = 0
    for c, width in enumerate(acc_widths):
        multiply = max(csd_count(layer.multiplier[c]) - 1, 0) * (width + MULTIPLIER_BITS) + width
        compare = ((1 << layer.bits) - 1) * max(width // 4, 1)
        luts += min(multiply, compare)
    return luts, layer.bits * len(acc_widths)


def analytic_estimate(network: Network) -> AnalyticEstimate:
    """The analytical model of the module docstring."""
    lane_luts = lane_ffs = 0
    in_bits, acc_widths = network.input_bits + 1, []  # +1: unsigned pixels enter signed arithmetic
    for layer in network.layers:
        if isinstance(layer, ConvLayer):
            luts, ffs = _conv_cost(layer, in_bits)
            acc_widths = [bit_width(lo, hi) for lo, hi in zip(layer.acc_min, layer.acc_max)]
        else:
            luts, ffs = _requant_cost(layer, acc_widths)
            in_bits = layer.bits + (0 if layer.signed else 1)
        lane_luts, lane_ffs = lane_luts + luts, lane_ffs + ffs
    score_bits = bit_width(*network.score_range)
    frac = network.head.frac_bits
    divider = (frac + 2) * (score_bits + frac + 2)
    head_luts = 2 * score_bits + divider
    head_ffs = 4 * score_bits + divider
    return AnalyticEstimate(lane_luts, lane_ffs, head_luts, head_ffs)


def network_bits(network: Network) -> tuple[int, int]:
    """(weight bits, activation bits) naming the network: the widest weights and hidden activations."""
    weights = max(layer.weight_bits for layer in network.conv_layers)
    acts = [layer.bits for layer in network.layers if isinstance(layer, RequantLayer)]
    return weights, max(acts) if acts else 0


def throughput_fields(network: Network, lanes: int, f_est_mhz: float) -> dict:
    """gpix_per_s_est, ops_per_pixel, tops_est and whether the estimate reaches 4 Gpixel/s."""
    ops = 2 * network.macs_per_pixel
    gpix = lanes * f_est_mhz / 1000.0
    return {"f_est_mhz": round(f_est_mhz, 1), "gpix_per_s_est": round(gpix, 3), "ops_per_pixel": ops,
            "tops_est": round(ops * gpix / 1000.0, 4),
            "estimated_to_reach_4gpix": gpix >= PAPER_GPIX_PER_S}


def lanes_for_target(f_est_mhz: float, target_gpix: float = PAPER_GPIX_PER_S) -> int:
    """The fewest lanes (a power of two) whose estimated throughput reaches `target_gpix`."""
    lanes = 1
    while lanes * f_est_mhz / 1000.0 < target_gpix:
        lanes *= 2
    return lanes

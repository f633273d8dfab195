"""A `qnn-int/1` network as a detector of the common interface, evaluated by the golden model.

Kept apart from `workbench.nn` so that running an exported document needs no TensorFlow: the
score is `max_i s[i]` and the position the contract's own head (first arg-max, its refinement,
`2^-F` px units), so the 1% false-alarm rule of `workbench.detectors.interface` applies unchanged. `hybrid_detector`
keeps the network's score, threshold and arg-max but locates with an integer refinement on the raw input.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import numpy as np

from workbench.detectors.interface import ThresholdedDetector
from workbench.qnn import golden
from workbench.qnn.contract import BOUND_LIMIT, Network, PeakHead
from workbench.qnn.refinement import AdaptiveRefinement, Refinement

AnyRefinement = Refinement | AdaptiveRefinement

ScoreFunction = Callable[[np.ndarray], np.ndarray]


def integer_head_positions(head: PeakHead, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(max score, position in px)` of integer scores `(N, L)` through the contract's head, unthresholded."""
    open_head = dataclasses.replace(head, threshold=-BOUND_LIMIT)
    _, pos = golden.peak_head(open_head, scores)
    return scores.max(axis=1).astype(np.float64), pos / float(1 << head.frac_bits)


def integer_detector(name: str, scores: ScoreFunction, head: PeakHead, bits: str | None = None) -> ThresholdedDetector:
    """A detector on integer scores through the contract head (uncalibrated: threshold -inf)."""
    return ThresholdedDetector(name, lambda profiles: integer_head_positions(head, scores(profiles)), bits=bits)


def golden_detector(name: str, network: Network, bits: str | None = None) -> ThresholdedDetector:
    """The exported quantized network, evaluated by the golden model (threshold: the document's)."""
    detector = integer_detector(name, lambda profiles: golden.scores(network, profiles), network.head, bits)
    return dataclasses.replace(detector, threshold=float(network.head.threshold))


def hybrid_positions(network: Network, refinement: AnyRefinement, profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(max score, position in px)`: the network's score and first arg-max, the position refined on the raw
    profile around that arg-max (`workbench.qnn.refinement`), unthresholded."""
    scores = golden.scores(network, profiles)
    pos = refinement.positions(profiles, np.argmax(scores, axis=1), network.input_bits)
    return scores.max(axis=1).astype(np.float64), pos / float(1 << refinement.frac_bits)


def hybrid_detector(name: str, network: Network, refinement: AnyRefinement, bits: str | None = None) -> ThresholdedDetector:
    """HYBRID, not network-only: the network detects and gates (its score, its document's threshold, its
    arg-max pixel), the integer `refinement` on the raw input locates."""
    return ThresholdedDetector(name, partial(hybrid_positions, network, refinement),
                               threshold=float(network.head.threshold), bits=bits,
                               params=(("refinement", refinement.name),))

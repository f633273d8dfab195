"""The networks as detectors of the common interface (`workbench.detectors.interface.ThresholdedDetector`).

Every network detector reports `score = max_i s[i]` and the peak head's position, so one
threshold rule (1% false alarms on empty validation profiles, `detection.calibrate`) applies to all:

- integer scores (quantized networks through the golden model, TFLite int8 outputs) go through the
  contract's head itself (`golden.peak_head`: first arg-max, parabolic refinement, `2^-F` px units);
- float scores (the float network) go through the same parabolic refinement in float.

`calibrated_float` and `calibrated_export` set the thresholds; the exported document's head stores
the quantized network's threshold.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import numpy as np

from workbench.qnn import golden
from workbench.detectors.classical import delta_parabolic
from workbench.qnn.contract import BOUND_LIMIT, Network, PeakHead, load_network
from workbench.detectors.interface import ThresholdedDetector, calibrate
from workbench.nn.export import HeadConfig, export_document

ScoreFunction = Callable[[np.ndarray], np.ndarray]


def integer_head_positions(head: PeakHead, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(max score, position in px)` of integer scores `(N, L)` through the contract's head, unthresholded."""
    open_head = dataclasses.replace(head, threshold=-BOUND_LIMIT)
    _, pos = golden.peak_head(open_head, scores)
    return scores.max(axis=1).astype(np.float64), pos / float(1 << head.frac_bits)


def float_head_positions(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(max score, position in px)` of float scores: first arg-max refined by the 3-point parabola."""
    scores = np.asarray(scores, dtype=np.float64)
    n, length = scores.shape
    rows = np.arange(n)
    p = np.argmax(scores, axis=1)
    interior = (p > 0) & (p < length - 1)
    a = scores[rows, np.clip(p - 1, 0, length - 1)]
    c = scores[rows, np.clip(p + 1, 0, length - 1)]
    delta = np.where(interior, delta_parabolic(a, scores[rows, p], c), 0.0)
    return scores[rows, p], p + delta


def model_scores(model: keras.Model, batch_size: int = 1024) -> ScoreFunction:
    """`profiles (N, L) -> scores (N, L)` of a Keras model in its current (float/training) mode."""
    def run(profiles: np.ndarray) -> np.ndarray:
        x = np.asarray(profiles, dtype=np.float32)[:, :, None]
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))[:, :, 0]
    return run


def float_detector(name: str, scores: ScoreFunction, bits: str | None = None) -> ThresholdedDetector:
    """A detector on float scores (uncalibrated: threshold -inf)."""
    return ThresholdedDetector(name, lambda profiles: float_head_positions(scores(profiles)), bits=bits)


def integer_detector(name: str, scores: ScoreFunction, head: PeakHead, bits: str | None = None) -> ThresholdedDetector:
    """A detector on integer scores through the contract head (uncalibrated: threshold -inf)."""
    return ThresholdedDetector(name, lambda profiles: integer_head_positions(head, scores(profiles)), bits=bits)


def golden_detector(name: str, network: Network, bits: str | None = None) -> ThresholdedDetector:
    """The exported quantized network, evaluated by the golden model (threshold: the document's)."""
    detector = integer_detector(name, lambda profiles: golden.scores(network, profiles), network.head, bits)
    return dataclasses.replace(detector, threshold=float(network.head.threshold))


def calibrated_float(name: str, model: keras.Model, empty_val: np.ndarray) -> ThresholdedDetector:
    """The float network as a detector, its threshold set for 1% false alarms on empty validation profiles."""
    return calibrate(float_detector(name, model_scores(model)), empty_val)


def calibrated_export(name: str, model: keras.Model, empty_val: np.ndarray, bits: str, input_bits: int = 8,
                      frac_bits: int = 8, metadata: dict | None = None) -> tuple[dict, ThresholdedDetector]:
    """The exported document of a frozen QAT model, with its head threshold calibrated like every
    detector's (integer, on the golden model's scores of empty validation profiles), and its detector."""
    draft = export_document(model, HeadConfig(threshold=0, frac_bits=frac_bits), input_bits, metadata)
    detector = calibrate(golden_detector(name, load_network(draft), bits), empty_val, integer=True)
    doc = dict(draft, head=HeadConfig(threshold=int(detector.threshold), frac_bits=frac_bits).to_dict())
    return doc, golden_detector(name, load_network(doc), bits)

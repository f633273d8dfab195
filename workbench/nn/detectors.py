"""The networks as detectors of the common interface (`workbench.detectors.interface.ThresholdedDetector`).

Every network detector reports `score = max_i s[i]` and the peak head's position, so one
threshold rule (1% false alarms on empty validation profiles, `interface.calibrate`) applies to all:

- integer scores (quantized networks through the golden model, TFLite int8 outputs) go through the
  contract's head itself (`workbench.qnn.detector`, which needs no TensorFlow);
- float scores (the float network) go through the same parabolic refinement in float.

`calibrated_float` and `calibrated_export` set the thresholds; the exported document's head stores
the quantized network's threshold.
"""
from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from workbench.detectors.classical import delta_parabolic
from workbench.qnn import golden
from workbench.qnn.contract import PeakHead, load_network
from workbench.qnn.detector import ScoreFunction, golden_detector, integer_detector
from workbench.detectors.interface import ThresholdedDetector, calibrate
from workbench.errors import DatasetError
from workbench.nn import integer_mode
from workbench.nn.export import HeadConfig, export_document  # its qlayers import registers the custom layers
from workbench.nn.tflite_baseline import Int8Runner, convert_int8
from workbench.nn.training import read_log


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


def calibrated_float(name: str, model: keras.Model, empty_val: np.ndarray) -> ThresholdedDetector:
    """The float network as a detector, its threshold set for 1% false alarms on empty validation profiles."""
    return calibrate(float_detector(name, model_scores(model)), empty_val)


TFLITE_HEAD = PeakHead("parabolic", 1, 0, 8)
"""The contract head the TFLite int8 scores (`q - zero_point`) go through."""


def calibrated_tflite(name: str, float_model: keras.Model, representative: np.ndarray, empty_val: np.ndarray,
                      threads: int | None = None) -> ThresholdedDetector:
    """The float network converted by TFLite to full int8 with `representative` profiles, run by LiteRT
    (`threads`: its interpreter's, default all cores), its integer scores through the contract's parabolic
    head, threshold for 1% false alarms."""
    runner = Int8Runner(convert_int8(float_model, representative), threads)
    return calibrate(integer_detector(name, runner, TFLITE_HEAD, bits="8/8"), empty_val, integer=True)


def golden_mismatches(name: str, model: keras.Model, document: dict, profiles: np.ndarray) -> dict:
    """A bit-exactness row (`tables.BITEXACT_COLUMNS`): the QAT model's Keras integer-mode scores against
    the golden model's on `profiles`."""
    integer_mode.set_integer_mode(model, True)
    try:
        ours = integer_mode.integer_scores(model, profiles)
    finally:
        integer_mode.set_integer_mode(model, False)
    reference = golden.scores(load_network(document), profiles)
    return {"model": name, "stage": "keras-integer vs golden", "profiles": len(profiles),
            "compared": int(reference.size), "mismatches": int(np.sum(ours != reference))}


def calibrated_export(name: str, model: keras.Model, empty_val: np.ndarray, bits: str, input_bits: int = 8,
                      frac_bits: int = 8, metadata: dict | None = None) -> tuple[dict, ThresholdedDetector]:
    """The exported document of a frozen QAT model, with its head threshold calibrated like every
    detector's (integer, on the golden model's scores of empty validation profiles), and its detector."""
    draft = export_document(model, HeadConfig(threshold=0, frac_bits=frac_bits), input_bits, metadata)
    detector = calibrate(golden_detector(name, load_network(draft), bits), empty_val, integer=True)
    doc = dict(draft, head=HeadConfig(threshold=int(detector.threshold), frac_bits=frac_bits).to_dict())
    return doc, golden_detector(name, load_network(doc), bits)


def load_keras_detector(path: Path, name: str | None = None) -> tuple[ThresholdedDetector, int]:
    """A saved `.keras` network as a float-score detector (uncalibrated) and the input depth it was built for.

    The depth comes from the training log next to the model (`<name>.log.json`), or else from the
    float model's input `Rescaling` layer (`1 / (2^bits - 1)`).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"model {path} does not exist")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure means an unreadable model file
        raise DatasetError(f"cannot load Keras model {path}: {exc}") from exc
    return float_detector(name or path.stem, model_scores(model)), _input_bits(model, read_log(path), path)


def _input_bits(model: keras.Model, log: dict, path: Path) -> int:
    spec = log.get("spec", {})
    if "input_bits" in spec:
        return int(spec["input_bits"])
    scale = next((layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)), None)
    if scale is not None:
        bits = math.log2(1.0 / float(scale.scale) + 1.0)
        if abs(bits - round(bits)) < 1e-6:
            return int(round(bits))
    raise DatasetError(f"model {path} states no input depth: it has no training log ({path.stem}.log.json) "
                       "and no input Rescaling layer of 1 / (2^bits - 1)")

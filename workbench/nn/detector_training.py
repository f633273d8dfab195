"""One entry point for "train a peak detector": train, calibrate the threshold, save, export.

`workbench train` and the run_all training stage both call `train_detector`: it trains the float
twin or the quantization-aware network of a spec on prepared training data, sets the detection
threshold for 1% false alarms on the empty validation profiles, and saves the `.keras` model, its
JSON log (with the threshold, or the exported head) and, for a quantized network, its `qnn-int/1`
document beside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from workbench.data.datasets import Dataset
from workbench.detectors.interface import ThresholdedDetector
from workbench.nn import training
from workbench.nn.detectors import calibrated_export, calibrated_float
from workbench.nn.export import save_document
from workbench.nn.models import NetworkSpec


@dataclass
class TrainedDetector:
    """A trained network, its calibrated detector and (quantized networks) its exported document."""

    trained: training.TrainedModel
    detector: ThresholdedDetector
    document: dict[str, Any] | None = None
    document_path: Path | None = None


@dataclass
class TrainingSets:
    """Training and validation data prepared once for every network of a run, and the empty validation profiles."""

    train: training.TrainingData
    val: training.TrainingData
    empty_val: np.ndarray
    input_bits: int


def prepare_sets(train_set: Dataset, val_set: Dataset, config: training.TrainConfig) -> TrainingSets:
    """Score targets for both splits (the generator's full scale) and the empty validation profiles."""
    full_scale = train_set.config.full_scale
    return TrainingSets(training.training_data(train_set.profiles, train_set.truth, config, full_scale),
                        training.training_data(val_set.profiles, val_set.truth, config, full_scale),
                        val_set.profiles[val_set.truth["empty"]], int(train_set.config.bits))


def train_detector(spec: NetworkSpec, sets: TrainingSets, config: training.TrainConfig, folder: Path, *,
                   quantized: bool, name: str, detector_name: str, family: str = "",
                   progress: Callable[[str], None] = training.log.info) -> TrainedDetector:
    """Train `spec` (float twin or QAT), calibrate its threshold and save model, log and document in `folder`;
    a QAT network of a `family` other than the default (`workbench.pipeline.families`) names it in its
    document's `metadata.family`."""
    folder = Path(folder)
    if not quantized:
        trained = training.train_float(spec, sets.train, sets.val, config, folder, name=name, progress=progress)
        detector = calibrated_float(detector_name, trained.model, sets.empty_val)
        trained.log["threshold"] = detector.threshold
        training.write_log(trained.path, trained.log)
        return TrainedDetector(trained, detector)
    trained = training.train_qat(spec, sets.train, sets.val, config, folder, name=name, progress=progress)
    document, detector = calibrated_export(detector_name, trained.model, sets.empty_val, spec.bits_label,
                                           sets.input_bits, metadata={"name": name, "bits": spec.bits_label,
                                                                     **({"family": family} if family else {})})
    path = save_document(document, folder / f"{name}.json")
    trained.log["head"] = document["head"]
    training.write_log(trained.path, trained.log)
    return TrainedDetector(trained, detector, document, path)

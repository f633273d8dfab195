"""Any detector from a short spec: a classical method's name, a `.keras` network or a `qnn-int/1` document.

`build_detector("br8")`, `build_detector("cog", window=3, threshold=20)`, `build_detector("models/float.keras")`,
`build_detector("models/qat_4_4.json")`. A network also states the input depth it was built for
(`BuiltDetector.input_bits`; None for classical methods, which take any depth). TensorFlow is loaded
only when a `.keras` file is asked for; a document runs on the golden model without it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.detectors import classical
from workbench.detectors.interface import ThresholdedDetector
from workbench.errors import ConfigError, ContractError
from workbench.qnn.contract import load_network
from workbench.qnn.detector import golden_detector

KERAS_SUFFIX = ".keras"
DOCUMENT_SUFFIX = ".json"


@dataclass(frozen=True)
class BuiltDetector:
    """A detector and the input depth it was built for (None: any depth)."""

    detector: ThresholdedDetector
    input_bits: int | None


def is_network(spec: str) -> bool:
    """Whether `spec` names a network file rather than a classical method."""
    return Path(spec).suffix.lower() in (KERAS_SUFFIX, DOCUMENT_SUFFIX)


def build_detector(spec: str, window: float | None = None, threshold: float | None = None) -> BuiltDetector:
    """The detector `spec` names; `threshold` replaces its own (a document's, or -inf: every profile's peak).

    A network is named after its file; a document's `metadata.bits` becomes the detector's `bits`.
    """
    if not is_network(spec):
        built = BuiltDetector(classical.make_detector(spec, window), None)
    elif window is not None:
        raise ConfigError(f"--window {window} applies to classical methods only, not to the network {spec}")
    elif Path(spec).suffix.lower() == DOCUMENT_SUFFIX:
        try:
            network = load_network(spec)
        except ContractError as exc:
            if spec in str(exc):
                raise
            raise ContractError(f"network document {spec}: {exc}") from None
        bits = network.document.get("metadata", {}).get("bits")
        built = BuiltDetector(golden_detector(Path(spec).stem, network, bits), network.input_bits)
    else:
        from workbench.nn.detectors import load_keras_detector  # TensorFlow only on this path
        built = BuiltDetector(*load_keras_detector(Path(spec)))
    if threshold is None:
        return built
    if math.isnan(threshold):
        raise ConfigError("--threshold nan invalid; allowed a number")
    return replace(built, detector=replace(built.detector, threshold=float(threshold)))

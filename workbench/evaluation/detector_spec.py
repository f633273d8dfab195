"""Any detector from a short spec: a classical method's name, a `.keras` network or a `qnn-int` document.

`build_detector("br8")`, `build_detector("cog", window=3, threshold=20)`, `build_detector("models/float.keras")`,
`build_detector("models/qat_4_4.json")`, `build_detector("hybrid:br8:models/qat_4_4.json")` (HYBRID: the
document's network detects, the named integer refinement of `workbench.qnn.refinement` locates on the raw
input; `hybrid:models/qat_4_4.json` uses the document's own refinement when it is a `qnn-int/2` document
with one, else BR8 taps). A `qnn-int/2` document with a refinement (`models/qat_4-4.hybrid.json`, written by
run_all's hybrids stage) is that hybrid itself. A network also states the input depth it was built for
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
from workbench.qnn.contract_v2 import NetworkDocument, load_document
from workbench.qnn.detector import golden_detector, hybrid_detector
from workbench.qnn.refinement import DEFAULT_REFINEMENT, named_refinement

KERAS_SUFFIX = ".keras"
DOCUMENT_SUFFIX = ".json"
HYBRID_PREFIX = "hybrid:"


@dataclass(frozen=True)
class BuiltDetector:
    """A detector and the input depth it was built for (None: any depth)."""

    detector: ThresholdedDetector
    input_bits: int | None


def is_network(spec: str) -> bool:
    """Whether `spec` names a network file (or a hybrid of a document) rather than a classical method."""
    return Path(spec).suffix.lower() in (KERAS_SUFFIX, DOCUMENT_SUFFIX)


def hybrid_parts(spec: str) -> tuple[str | None, str] | None:
    """`(refinement name or None when not named, document path)` of a `hybrid:[<refinement>:]<document.json>`
    spec, None for any other spec."""
    if not spec.startswith(HYBRID_PREFIX):
        return None
    head, separator, tail = spec[len(HYBRID_PREFIX):].partition(":")
    name, path = (head, tail) if separator else (None, head)
    if Path(path).suffix.lower() != DOCUMENT_SUFFIX:
        raise ConfigError(f"hybrid spec {spec!r} invalid; allowed hybrid:[<refinement>:]<qnn-int .json document>")
    return name, path


def _document(path: str) -> NetworkDocument:
    """A qnn-int/1 or qnn-int/2 document, errors naming the file."""
    try:
        return load_document(path)
    except ContractError as exc:
        if path in str(exc):
            raise
        raise ContractError(f"network document {path}: {exc}") from None


def build_detector(spec: str, window: float | None = None, threshold: float | None = None) -> BuiltDetector:
    """The detector `spec` names; `threshold` replaces its own (a document's, or -inf: every profile's peak).

    A network is named after its file; a document's `metadata.bits` becomes the detector's `bits`.
    """
    hybrid = hybrid_parts(spec)
    if not is_network(spec):
        built = BuiltDetector(classical.make_detector(spec, window), None)
    elif window is not None:
        raise ConfigError(f"--window {window} applies to classical methods only, not to the network {spec}")
    elif Path(spec).suffix.lower() == DOCUMENT_SUFFIX:
        path = spec if hybrid is None else hybrid[1]
        model = _document(path)
        refinement = model.refinement
        if hybrid is not None and (hybrid[0] is not None or refinement is None):
            refinement = named_refinement(hybrid[0] or DEFAULT_REFINEMENT)
        network, bits = model.network, model.document.get("metadata", {}).get("bits")
        if refinement is None:
            detector = golden_detector(Path(path).stem, network, bits)
        else:
            detector = hybrid_detector(f"hybrid_{refinement.name}_{Path(path).stem}", network, refinement, bits)
        built = BuiltDetector(detector, network.input_bits)
    else:
        from workbench.nn.detectors import load_keras_detector  # TensorFlow only on this path
        built = BuiltDetector(*load_keras_detector(Path(spec)))
    if threshold is None:
        return built
    if math.isnan(threshold):
        raise ConfigError("--threshold nan invalid; allowed a number")
    return replace(built, detector=replace(built.detector, threshold=float(threshold)))

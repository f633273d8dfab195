"""Export a snapped, frozen quantization-aware Keras model to a `qnn-int/1` document.

The document holds the model's integer variables exactly (the ones its integer mode computes with),
the ranges computed by `workbench.qnn.contract.fill_ranges`, and, as extra keys, the widths in bits of
every accumulator, product and output. The document is validated by `contract.load_network`
before it is returned; anything the contract cannot represent raises `ExportError` naming the layer.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from workbench.qnn.contract import FORMAT, REFINES, Document, bit_width, fill_ranges, load_network
from workbench.errors import ContractError, ExportError
from workbench.nn.integer_mode import quantized_layers
from workbench.nn.qlayers import QDense, QuantizedLinear, Requantizer


@dataclass(frozen=True)
class HeadConfig:
    """The `peak` head stored in the document."""

    threshold: int
    refine: str = "parabolic"
    frac_bits: int = 6
    window: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The document's `head` object."""
        return {"type": "peak", **asdict(self)}


def export_document(model: keras.Model, head: HeadConfig, input_bits: int = 8,
                    metadata: dict[str, Any] | None = None) -> Document:
    """The validated `qnn-int/1` document of `model` (its integer weights must be frozen)."""
    if head.refine not in REFINES:
        raise ExportError(f"head refine {head.refine!r}; allowed: {list(REFINES)}")
    layers = quantized_layers(model)
    entries = [_entry(layer, index, layers) for index, layer in enumerate(layers)]
    doc = {"format": FORMAT, "input": {"bits": int(input_bits)}, "layers": entries, "head": head.to_dict()}
    if metadata:
        doc["metadata"] = metadata
    try:
        doc = fill_ranges(doc)
        network = load_network(doc)
    except ContractError as exc:
        raise ExportError(f"model {model.name} is not representable in {FORMAT}: {exc}") from None
    _add_widths(doc, network)
    return doc


def save_document(doc: Document, path: Path) -> Path:
    """Write the document as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


def _entry(layer: Any, index: int, layers: list) -> dict[str, Any]:
    last = index == len(layers) - 1
    previous = layers[index - 1] if index else None
    if isinstance(layer, Requantizer):
        if not isinstance(previous, QuantizedLinear):
            raise ExportError(f"layer {layer.name}: a Requantizer must follow a QConv1D or QDense layer")
        if last:
            raise ExportError(f"layer {layer.name}: the last layer must be the score QConv1D/QDense, with no "
                              "Requantizer after it")
        if not layer.scales_frozen:
            raise ExportError(f"layer {layer.name}: its scale is not snapped; run integer_mode.snap_scales first")
        return {"type": "requantizer", "name": layer.name, "bits": layer.bits, "signed": layer.signed,
                "multiplier": _ints(layer.multiplier, layer.name, "multiplier").tolist(),
                "shift": int(_ints(layer.shift, layer.name, "shift"))}
    if isinstance(previous, QuantizedLinear):
        raise ExportError(f"layer {layer.name}: follows {previous.name} with no Requantizer in between")
    if not layer.integer_ready:
        raise ExportError(f"layer {layer.name}: integer weights are not frozen; run integer_mode.snap_scales "
                          "and freeze_integers first")
    if layer.kernel_size % 2 == 0:
        raise ExportError(f"layer {layer.name}: kernel_size {layer.kernel_size} is even; qnn-int/1 needs an odd "
                          "kernel (centred taps)")
    if last and layer.out_channels != 1:
        raise ExportError(f"layer {layer.name}: the score layer must have 1 output channel, has {layer.out_channels}")
    kernel = _ints(layer.integer_kernel, layer.name, "weights")
    limit = layer.weight_limit
    if np.abs(kernel).max(initial=0) > limit:
        raise ExportError(f"layer {layer.name}: weight {int(np.abs(kernel).max())} does not fit "
                          f"{layer.weight_bits} bits (|w| <= {limit})")
    entry: dict[str, Any] = {"type": "qdense" if isinstance(layer, QDense) else "qconv1d", "name": layer.name}
    if not isinstance(layer, QDense):
        entry["kernel_size"] = layer.kernel_size
    entry.update({"in_channels": int(kernel.shape[1]), "out_channels": int(kernel.shape[2]),
                  "weight_bits": layer.weight_bits,
                  "weights": (kernel[0] if isinstance(layer, QDense) else kernel).tolist(),
                  "bias": _ints(layer.integer_bias, layer.name, "bias").tolist()})
    return entry


def _ints(variable: Any, layer: str, what: str) -> np.ndarray:
    """A variable's values as int64, checked to be integers within the float64-exact range."""
    values = np.asarray(variable, dtype=np.float64)
    if not np.all(np.isfinite(values)) or not np.array_equal(values, np.floor(values)):
        raise ExportError(f"layer {layer}: {what} holds non-integer values")
    if np.abs(values).max(initial=0) > 2.0 ** 52:
        raise ExportError(f"layer {layer}: {what} holds {np.abs(values).max():.0f}, beyond 2^52")
    return values.astype(np.int64)


def _add_widths(doc: Document, network: Any) -> None:
    """Extra keys: two's complement widths of every accumulator (`acc_bits`), product and output."""
    for entry, layer in zip(doc["layers"], network.layers):
        if entry["type"] == "requantizer":
            entry["prod_bits"] = max(bit_width(lo, hi) for lo, hi in zip(layer.prod_min, layer.prod_max))
            entry["out_bits"] = layer.bits
        else:
            entry["acc_bits"] = max(bit_width(lo, hi) for lo, hi in zip(layer.acc_min, layer.acc_max))

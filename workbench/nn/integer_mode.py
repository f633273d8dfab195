"""From a trained quantization-aware model to an exact integer one, and back from a `qnn-int/1` document.

1. `snap_scales(model)`: each requantizer's combined per-channel scale (its `alpha` times the
   preceding layer's accumulator scale `input_scale * s_w`) is snapped to `multiplier / 2^shift`
   (16-bit multipliers, one shift per layer, the largest shift that fits) and every scale is frozen,
   so that a short fine-tune adapts the weights to the snapped values.
2. `freeze_integers(model)`: the integer weights and biases the shadow weights quantize to are
   written into each layer's integer variables.
3. `set_integer_mode(model, True)` / `integer_scores(model, profiles)`: the model then computes the
   `qnn-int/1` semantics exactly (see `workbench.nn.qlayers`).

`model_from_document(doc)` builds the Keras model in integer mode that a document describes, so that
every document (conformance cases, random networks) can be run by the Keras layers.
"""
from __future__ import annotations

import math
from typing import Union

import keras
import numpy as np

from workbench.qnn.contract import MAX_SHIFT, MULTIPLIER_LIMIT, Document, RequantLayer, load_network
from workbench.errors import ConfigError, ExportError
from workbench.nn.qlayers import QConv1D, QDense, QuantizedLinear, Requantizer

QLayer = Union[QuantizedLinear, Requantizer]


def quantized_layers(model: keras.Model) -> list[QLayer]:
    """The model's `QConv1D`/`QDense`/`Requantizer` layers in order (ExportError for any other layer)."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not isinstance(layer, (QuantizedLinear, Requantizer)):
            raise ExportError(f"layer {layer.name} ({type(layer).__name__}) is not a QConv1D, QDense or "
                              "Requantizer; only those can be represented in qnn-int/1")
        layers.append(layer)
    return layers


def layer_pairs(model: keras.Model) -> list[tuple[QuantizedLinear, Requantizer]]:
    """Each requantizer with the conv/dense layer it follows (ExportError when one is misplaced)."""
    layers = quantized_layers(model)
    pairs = []
    for before, layer in zip([None, *layers[:-1]], layers):
        if isinstance(layer, Requantizer):
            if not isinstance(before, QuantizedLinear):
                raise ExportError(f"layer {layer.name}: a Requantizer must follow a QConv1D or QDense layer")
            pairs.append((before, layer))
    return pairs


def snap_multipliers(scale: np.ndarray, where: str) -> tuple[np.ndarray, int]:
    """Integers `m < 2^16` and one `shift <= 48` with `m / 2^shift` closest to `scale` (largest shift that fits)."""
    scale = np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ExportError(f"layer {where}: scale {scale.tolist()} is not a positive finite number")
    top = float(scale.max())
    shift = int(np.clip(math.floor(math.log2((MULTIPLIER_LIMIT - 0.5) / top)), 0, MAX_SHIFT)) if top < MULTIPLIER_LIMIT else 0
    while True:
        multiplier = np.floor(scale * 2.0 ** shift + 0.5)
        if multiplier.max() < MULTIPLIER_LIMIT:
            return multiplier.astype(np.int64), shift
        if shift == 0:
            raise ExportError(f"layer {where}: scale {top:.6g} needs multiplier {int(multiplier.max())}, which does "
                              f"not fit 16 bits (< {MULTIPLIER_LIMIT}) even with shift 0")
        shift -= 1


def snap_scales(model: keras.Model) -> list[dict]:
    """Snap every requantizer's combined scale to `multiplier / 2^shift` and freeze all scales.

    Returns one record per requantizer (name, shift, multipliers, largest relative snapping error).
    """
    records = []
    for conv, requant in layer_pairs(model):
        acc_scale = conv.input_scale * np.exp(np.asarray(conv.log_scale, dtype=np.float64))
        alpha = np.exp(np.asarray(requant.log_alpha, dtype=np.float64)) * np.ones_like(acc_scale)
        if requant.scale_mode == "pow2":
            alpha = 2.0 ** np.round(np.log2(alpha))
        combined = alpha * acc_scale
        multiplier, shift = snap_multipliers(combined, requant.name)
        snapped = multiplier / 2.0 ** shift
        requant.multiplier.assign(multiplier.astype(np.float64))
        requant.shift.assign(float(shift))
        requant.frozen_alpha.assign((snapped / acc_scale).astype(np.float32))
        records.append({"layer": requant.name, "shift": shift, "multiplier": multiplier.tolist(),
                        "max_relative_error": float(np.max(np.abs(snapped - combined) / combined))})
    for layer in quantized_layers(model):
        layer.scales_frozen = True
        scale = layer.log_alpha if isinstance(layer, Requantizer) else layer.log_scale
        scale.trainable = False
    return records


def freeze_integers(model: keras.Model) -> None:
    """Write the integer weights and biases of every conv/dense layer (after `snap_scales`)."""
    for layer in quantized_layers(model):
        if not layer.scales_frozen:
            raise ExportError(f"layer {layer.name}: scales are not snapped yet; call snap_scales first")
        if isinstance(layer, QuantizedLinear):
            kernel, bias = layer.integer_weights()
            layer.integer_kernel.assign(kernel.astype(np.float64))
            layer.integer_bias.assign(bias.astype(np.float64))
            layer.integer_ready = True


def set_integer_mode(model: keras.Model, enabled: bool) -> None:
    """Switch every quantized layer to exact integer inference (or back to float training mode)."""
    layers = quantized_layers(model)
    if enabled:
        missing = [layer.name for layer in layers if isinstance(layer, QuantizedLinear) and not layer.integer_ready]
        if missing:
            raise ConfigError(f"layers {missing} have no integer weights yet; call snap_scales and freeze_integers")
    for layer in layers:
        layer.integer_mode = bool(enabled)


def integer_scores(model: keras.Model, profiles: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Scores `(N, L)` int64 of a model in integer mode (every value checked to be an exact integer)."""
    if not all(layer.integer_mode for layer in quantized_layers(model)):
        raise ConfigError("the model is not in integer mode; call set_integer_mode(model, True) first")
    profiles = np.asarray(profiles)
    chunks = []
    for start in range(0, len(profiles), batch_size):
        x = profiles[start:start + batch_size].astype(np.float64)[:, :, None]
        out = keras.ops.convert_to_numpy(model(x, training=False))
        if out.dtype != np.float64 or not np.array_equal(out, np.floor(out)):
            raise ConfigError(f"integer mode produced non-integer or {out.dtype} scores")
        chunks.append(out[:, :, 0].astype(np.int64))
    length = profiles.shape[1] if profiles.ndim == 2 else 0
    return np.concatenate(chunks) if chunks else np.zeros((0, length), dtype=np.int64)


def model_from_document(document: Document) -> keras.Model:
    """The Keras model (integer mode) computing a validated `qnn-int/1` document."""
    network = load_network(document)
    inputs = keras.Input(shape=(None, 1), name="profile")
    x = inputs
    assignments = []
    used: set[str] = set()
    for index, layer in enumerate(network.layers):
        name = layer.name if layer.name and layer.name not in used else f"layer{index}"
        used.add(name)
        if isinstance(layer, RequantLayer):
            keras_layer = Requantizer(layer.bits, signed=layer.signed, scales_frozen=True, integer_mode=True,
                                      name=name)
            x = keras_layer(x)
            assignments.append((keras_layer.multiplier, layer.multiplier))
            assignments.append((keras_layer.shift, layer.shift))
            continue
        common = dict(scales_frozen=True, integer_ready=True, integer_mode=True, name=name)
        if layer.kind == "qdense":
            keras_layer = QDense(layer.out_channels, layer.weight_bits, **common)
        else:
            keras_layer = QConv1D(layer.out_channels, layer.kernel_size, layer.weight_bits, **common)
        x = keras_layer(x)
        assignments.append((keras_layer.integer_kernel, layer.weights))
        assignments.append((keras_layer.integer_bias, layer.bias))
    for variable, value in assignments:
        variable.assign(np.asarray(value, dtype=np.float64))
    return keras.Model(inputs, x, name="qnn_int_document")

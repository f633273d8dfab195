"""Quantization-aware Keras layers that compute on integer-valued tensors: `QConv1D`, `QDense`, `Requantizer`.

Training mode (float32, differentiable):

- `QConv1D` / `QDense` keep float shadow weights `w` and a learned per-channel weight scale `s_w`
  (stored as `log s_w`, LSQ initialisation and gradient scaling). The forward pass uses the integer
  weights `q = clip(round(w / s_w), -Q, Q)`, `Q = 2^(weight_bits-1) - 1`, with a straight-through
  estimator, and the integer bias `b = round(bias / (input_scale * s_w))`, so that the accumulator
  `acc = conv(x, q) + b` is exactly the integer one hardware computes. The layer returns
  `input_scale * s_w * acc` (the accumulator in float units, LSQ's "dequantised" value).
  `input_scale` is a fixed constant (`1 / largest input value`) that keeps float values near 1.
- `Requantizer` returns the integer `y = clip(round(alpha * v), lo, hi)` of the float value `v`,
  `alpha > 0` learned as `log alpha` per channel (or per layer), straight-through on the rounding.
  `scale_mode` selects how alpha is trained: `learned` (gradient from the unclipped values),
  `pow2` (fixed at a power of two, not trained), `pact` (PACT-style learned clip level
  `hi / alpha`: gradient only from the clipped values).

All rounding is half up (`floor(x + 0.5)`), as in the contract; TensorFlow's `round` is half to even.

Integer mode (`integer_mode=True`, not differentiable) computes exactly the `qnn-int/1` semantics
from the layers' integer variables (`integer_kernel`, `integer_bias`, `multiplier`, `shift`) in
float64, exact for every value the contract allows (bounds below 2^52 < 2^53): a conv layer returns
its accumulator, a requantizer `clip(floor((acc * m + r) / 2^shift), lo, hi)`. Those variables are
written by `workbench.nn.integer_mode` (snapping and freezing a trained model, or loading a document).
"""
from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from workbench.errors import ConfigError
from workbench.qnn.contract import MAX_BITS, MIN_BITS, activation_range

SCALE_MODES = ("learned", "pow2", "pact")
PACKAGE = "qpeak"


def round_half_up(x: tf.Tensor) -> tf.Tensor:
    """`floor(x + 0.5)`: ties go towards +infinity (-2.5 -> -2, 2.5 -> 3)."""
    return tf.floor(x + 0.5)


def ste_round(x: tf.Tensor) -> tf.Tensor:
    """Round half up in the forward pass, identity in the backward pass (straight-through)."""
    return x + tf.stop_gradient(round_half_up(x) - x)


def grad_scale(x: tf.Tensor, factor: float) -> tf.Tensor:
    """`x` in the forward pass; its gradient multiplied by `factor` (LSQ gradient scaling)."""
    return x * factor + tf.stop_gradient(x - x * factor)


def check_bits(bits: Any, what: str) -> int:
    """A bit width in [2, 8], or ConfigError naming `what`."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not MIN_BITS <= bits <= MAX_BITS:
        raise ConfigError(f"{what} is {bits!r}; allowed: an integer from {MIN_BITS} to {MAX_BITS}")
    return int(bits)


class QuantizedLinear(keras.layers.Layer):
    """Shared body of `QConv1D` and `QDense`: a 1-D convolution with quantized weights and bias."""

    def __init__(self, out_channels: int, kernel_size: int, weight_bits: int, input_scale: float = 1.0,
                 scales_frozen: bool = False, integer_ready: bool = False, integer_mode: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)  # integer mode passes float64 between layers
        super().__init__(**kwargs)
        if not isinstance(out_channels, (int, np.integer)) or out_channels < 1:
            raise ConfigError(f"layer {self.name}: {out_channels!r} output channels; allowed: a positive integer")
        if not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1:
            raise ConfigError(f"layer {self.name}: kernel_size {kernel_size!r}; allowed: a positive integer")
        if not input_scale > 0:
            raise ConfigError(f"layer {self.name}: input_scale {input_scale!r} must be positive")
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.weight_bits = check_bits(weight_bits, f"layer {self.name} weight_bits")
        self.input_scale = float(input_scale)
        self.scales_frozen = bool(scales_frozen)
        self.integer_ready = bool(integer_ready)
        self.integer_mode = bool(integer_mode)

    @property
    def weight_limit(self) -> int:
        """`Q = 2^(weight_bits-1) - 1`: integer weights lie in `[-Q, Q]`."""
        return (1 << (self.weight_bits - 1)) - 1

    def build(self, input_shape: tuple) -> None:
        in_channels = int(input_shape[-1])
        shape = (self.kernel_size, in_channels, self.out_channels)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="he_normal")
        self.bias = self.add_weight(name="bias", shape=(self.out_channels,), initializer="zeros")
        self.log_scale = self.add_weight(name="log_scale", shape=(self.out_channels,), initializer="zeros",
                                         trainable=not self.scales_frozen)
        self.integer_kernel = self.add_weight(name="integer_kernel", shape=shape, initializer="zeros",
                                              dtype="float64", trainable=False)
        self.integer_bias = self.add_weight(name="integer_bias", shape=(self.out_channels,), initializer="zeros",
                                            dtype="float64", trainable=False)
        # LSQ initialisation of the weight scale: 2 * mean|w| / sqrt(Q), per output channel.
        mean_abs = np.mean(np.abs(keras.ops.convert_to_numpy(self.kernel)), axis=(0, 1))
        self.log_scale.assign(np.log(np.maximum(2.0 * mean_abs / math.sqrt(self.weight_limit), 1e-8)))

    def weight_scale(self) -> tf.Tensor:
        """`s_w` per output channel, with LSQ gradient scaling (`1 / sqrt(fan_in * Q)`) or frozen."""
        log_s = tf.convert_to_tensor(self.log_scale)
        if self.scales_frozen:
            log_s = tf.stop_gradient(log_s)
        else:
            fan_in = self.kernel_size * int(self.kernel.shape[1])
            log_s = grad_scale(log_s, 1.0 / math.sqrt(fan_in * self.weight_limit))
        return tf.exp(log_s)

    def quantized_kernel(self, scale: tf.Tensor) -> tf.Tensor:
        """The integer-valued kernel `clip(round(w / s_w), -Q, Q)` (straight-through)."""
        q = float(self.weight_limit)
        return tf.clip_by_value(ste_round(self.kernel / scale), -q, q)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if self.integer_mode:
            return self._integer_call(inputs)
        x = tf.cast(inputs, tf.float32)
        scale = self.weight_scale()
        acc_scale = self.input_scale * scale
        acc = tf.nn.conv1d(x, self.quantized_kernel(scale), stride=1, padding="SAME")
        acc = acc + ste_round(self.bias / acc_scale)
        return acc * acc_scale

    def _integer_call(self, inputs: tf.Tensor) -> tf.Tensor:
        """The exact accumulator `bias + sum w * x` with zero padding, in float64."""
        x = tf.cast(inputs, tf.float64)
        left = (self.kernel_size - 1) // 2
        x = tf.pad(x, [[0, 0], [left, self.kernel_size - 1 - left], [0, 0]])
        return tf.nn.conv1d(x, self.integer_kernel, stride=1, padding="VALID") + self.integer_bias

    def integer_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The integer kernel `(k, cin, cout)` and bias the float weights quantize to (numpy, float64 math)."""
        scale = np.exp(np.asarray(self.log_scale, dtype=np.float64))
        kernel = np.asarray(self.kernel, dtype=np.float64) / scale
        q = self.weight_limit
        kernel = np.clip(np.floor(kernel + 0.5), -q, q)
        bias = np.floor(np.asarray(self.bias, dtype=np.float64) / (self.input_scale * scale) + 0.5)
        return kernel.astype(np.int64), bias.astype(np.int64)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.out_channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_bits": self.weight_bits, "input_scale": self.input_scale,
                "scales_frozen": self.scales_frozen, "integer_ready": self.integer_ready,
                "integer_mode": self.integer_mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class QConv1D(QuantizedLinear):
    """Quantized 1-D convolution (stride 1, zero padding "same") with `weight_bits`-bit symmetric weights."""

    def __init__(self, filters: int, kernel_size: int, weight_bits: int, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, weight_bits, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.out_channels, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class QDense(QuantizedLinear):
    """Quantized dense layer on the last (channel) axis, applied to every pixel: a kernel-size-1 `QConv1D`."""

    def __init__(self, units: int, weight_bits: int, **kwargs: Any) -> None:
        super().__init__(units, 1, weight_bits, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.out_channels}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Requantizer(keras.layers.Layer):
    """Activation and rescaler: `y = clip(round(alpha * v), lo, hi)` with a learned `alpha` per channel.

    `init_range` is the float input value mapped onto `hi` at initialisation (no calibration data).
    """

    def __init__(self, bits: int, signed: bool = False, per_channel: bool = True, scale_mode: str = "learned",
                 init_range: float = 2.0, scales_frozen: bool = False, integer_mode: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.bits = check_bits(bits, f"layer {self.name} bits")
        if scale_mode not in SCALE_MODES:
            raise ConfigError(f"layer {self.name}: scale_mode {scale_mode!r}; allowed: {list(SCALE_MODES)}")
        if not init_range > 0:
            raise ConfigError(f"layer {self.name}: init_range {init_range!r} must be positive")
        self.signed = bool(signed)
        self.per_channel = bool(per_channel)
        self.scale_mode = scale_mode
        self.init_range = float(init_range)
        self.scales_frozen = bool(scales_frozen)
        self.integer_mode = bool(integer_mode)

    @property
    def lo(self) -> int:
        """Smallest output value."""
        return activation_range(self.bits, self.signed)[0]

    @property
    def hi(self) -> int:
        """Largest output value."""
        return activation_range(self.bits, self.signed)[1]

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        alpha = self.hi / self.init_range
        if self.scale_mode == "pow2":
            alpha = 2.0 ** round(math.log2(alpha))
        self.log_alpha = self.add_weight(name="log_alpha", shape=(channels if self.per_channel else 1,),
                                         initializer=keras.initializers.Constant(math.log(alpha)),
                                         trainable=self.scale_mode != "pow2" and not self.scales_frozen)
        self.multiplier = self.add_weight(name="multiplier", shape=(channels,), initializer="zeros",
                                          dtype="float64", trainable=False)
        self.shift = self.add_weight(name="shift", shape=(), initializer="zeros", dtype="float64", trainable=False)
        self.frozen_alpha = self.add_weight(name="frozen_alpha", shape=(channels,), initializer="ones",
                                            trainable=False)

    def alpha(self) -> tf.Tensor:
        """`alpha` per channel (or one), gradient-scaled by `1 / sqrt(hi)`, fixed (pow2) or frozen.

        Frozen (after snapping) it is `frozen_alpha`: times the preceding layer's accumulator scale it
        equals `multiplier / 2^shift`.
        """
        if self.scales_frozen:
            return tf.convert_to_tensor(self.frozen_alpha)
        log_alpha = tf.convert_to_tensor(self.log_alpha)
        if self.scale_mode == "pow2":
            log_alpha = tf.stop_gradient(log_alpha)
        else:
            log_alpha = grad_scale(log_alpha, 1.0 / math.sqrt(self.hi))
        return tf.exp(log_alpha)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if self.integer_mode:
            return self._integer_call(inputs)
        v = tf.cast(inputs, tf.float32)
        alpha = self.alpha()
        lo, hi = float(self.lo), float(self.hi)
        if self.scale_mode == "pact":
            # PACT: the clip levels lo/alpha, hi/alpha carry alpha's gradient; the scaling does not.
            clipped = tf.clip_by_value(v, lo / alpha, hi / alpha) * tf.stop_gradient(alpha)
            return tf.clip_by_value(ste_round(clipped), lo, hi)
        return tf.clip_by_value(ste_round(alpha * v), lo, hi)

    def _integer_call(self, inputs: tf.Tensor) -> tf.Tensor:
        """`clip(floor((acc * m + r) / 2^shift), lo, hi)` in float64 (exact below 2^53)."""
        acc = tf.cast(inputs, tf.float64)
        power = tf.pow(tf.constant(2.0, tf.float64), self.shift)
        rounding = tf.where(self.shift > 0, power / 2.0, tf.constant(0.0, tf.float64))
        y = tf.floor((acc * self.multiplier + rounding) / power)
        return tf.clip_by_value(y, float(self.lo), float(self.hi))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bits": self.bits, "signed": self.signed, "per_channel": self.per_channel,
                "scale_mode": self.scale_mode, "init_range": self.init_range,
                "scales_frozen": self.scales_frozen, "integer_mode": self.integer_mode}

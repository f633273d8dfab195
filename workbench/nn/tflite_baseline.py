"""TFLite full-integer (int8) post-training quantization of the float network, run by LiteRT.

The float twin is converted with `TFLITE_BUILTINS_INT8` only and int8 input and output, calibrated on a
representative set of training profiles (`calibration_sets` draws sets of 10, 100, 500 profiles,
several random draws each). Its int8 score `q` is read as the integer `q - zero_point`, so it goes
through the same peak head as the quantized networks (`workbench.qnn.detector.integer_detector`).
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Iterator

import keras
import numpy as np
import tensorflow as tf

from workbench.errors import ConfigError

CALIBRATION_SIZES = (10, 100, 500)


def convert_int8(model: keras.Model, representative: np.ndarray) -> bytes:
    """The int8 TFLite flatbuffer of a float model, calibrated on `representative` profiles `(n, L)`."""
    representative = np.asarray(representative, dtype=np.float32)
    if representative.ndim != 2 or len(representative) == 0:
        raise ConfigError(f"representative profiles must be a non-empty (n, L) array, got {representative.shape}")
    length = representative.shape[1]
    inputs = keras.Input(shape=(length, 1), batch_size=1)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, model(inputs)))

    def samples() -> Iterator[list[np.ndarray]]:
        for row in representative:
            yield [row[None, :, None]]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()  # (the Keras export prints its signature; TFLite warns about the input)


class Int8Runner:
    """Runs an int8 flatbuffer on profiles `(N, L)`; returns integer scores `q - zero_point` `(N, L)`."""

    def __init__(self, flatbuffer: bytes, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=flatbuffer, num_threads=threads or os.cpu_count() or 1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_scale, self.input_zero = self.input["quantization"]
        self.output_scale, self.output_zero = self.output["quantization"]

    def quantize_input(self, profiles: np.ndarray) -> np.ndarray:
        """Profiles as the int8 input tensor (`round(x / scale) + zero_point`, saturated)."""
        q = np.floor(np.asarray(profiles, dtype=np.float64) / self.input_scale + 0.5) + self.input_zero
        return np.clip(q, -128, 127).astype(np.int8)[:, :, None]

    def __call__(self, profiles: np.ndarray) -> np.ndarray:
        profiles = np.asarray(profiles)
        out = np.empty(profiles.shape, dtype=np.int64)
        for i, row in enumerate(self.quantize_input(profiles)):
            self.interpreter.set_tensor(self.input["index"], row[None])
            self.interpreter.invoke()
            out[i] = self.interpreter.get_tensor(self.output["index"])[0, :, 0].astype(np.int64) - self.output_zero
        return out

    def dequantized(self, profiles: np.ndarray) -> np.ndarray:
        """The float scores the int8 outputs stand for."""
        return self(profiles) * self.output_scale


def calibration_sets(n_available: int, sizes: tuple[int, ...] = CALIBRATION_SIZES, draws: int = 3,
                     seed: int = 0) -> list[tuple[int, int, np.ndarray]]:
    """`(size, draw, indices)` of random representative sets drawn from `n_available` training profiles."""
    rng = np.random.default_rng(seed)
    out = []
    for size in sizes:
        if size > n_available:
            raise ConfigError(f"a representative set of {size} profiles needs that many training profiles; "
                              f"{n_available} available")
        out += [(size, draw, np.sort(rng.choice(n_available, size, replace=False))) for draw in range(draws)]
    return out

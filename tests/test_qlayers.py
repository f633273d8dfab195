"""QConv1D, QDense and Requantizer: rounding, integer-valued accumulators, ranges, gradients, serialization."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from workbench.errors import ConfigError  # noqa: E402
from workbench.nn.models import build_qat_model, default_spec  # noqa: E402
from workbench.nn.qlayers import QConv1D, QDense, Requantizer, grad_scale, round_half_up, ste_round  # noqa: E402


def numpy_conv_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Zero-padded 'same' correlation of x (N, L, C) with kernel (k, C, O), in float64."""
    k = kernel.shape[0]
    left = (k - 1) // 2
    padded = np.pad(x, ((0, 0), (left, k - 1 - left), (0, 0)))
    length = x.shape[1]
    return sum(padded[:, t:t + length, :] @ kernel[t] for t in range(k))


def test_round_half_up_sends_ties_towards_plus_infinity():
    values = tf.constant([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.49, 0.49])
    assert round_half_up(values).numpy().tolist() == [-2, -1, 0, 1, 2, 3, 0, 0]


def test_straight_through_rounding_and_gradient_scaling_gradients():
    x = tf.Variable([0.3, -1.7, 2.5])
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(ste_round(x) * tf.constant([1.0, 2.0, 3.0]))
        z = tf.reduce_sum(grad_scale(x, 0.25))
    assert ste_round(x).numpy().tolist() == [0, -2, 3]
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 2, 3])
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [0.25, 0.25, 0.25])
    assert float(tf.reduce_sum(grad_scale(x, 0.25))) == pytest.approx(float(tf.reduce_sum(x)))


@pytest.mark.parametrize("bits", [2, 3, 5, 8])
@pytest.mark.parametrize("layer_type", ["conv", "dense"])
def test_training_accumulator_is_the_integer_one(bits, layer_type):
    """Training mode returns input_scale * s_w * acc with acc exactly conv(x, q) + b on integer inputs."""
    keras.utils.set_random_seed(bits)
    layer = (QConv1D(3, 5, bits, input_scale=1 / 255) if layer_type == "conv"
             else QDense(3, bits, input_scale=1 / 255))
    x = np.random.default_rng(bits).integers(0, 256, (2, 16, 2)).astype(np.float32)
    layer.build(x.shape)
    layer.bias.assign(np.array([0.3, -0.2, 0.05], dtype=np.float32))
    out = layer(x).numpy().astype(np.float64)
    kernel, bias = layer.integer_weights()
    assert np.abs(kernel).max() <= (1 << (bits - 1)) - 1
    acc_scale = layer.input_scale * np.exp(layer.log_scale.numpy().astype(np.float64))
    expected = numpy_conv_same(x.astype(np.float64), kernel.astype(np.float64)) + bias
    np.testing.assert_allclose(out / acc_scale, expected, atol=1e-2)


@pytest.mark.parametrize("bits,signed", [(2, False), (3, True), (4, False), (8, True)])
def test_requantizer_outputs_integers_in_range(bits, signed):
    layer = Requantizer(bits, signed=signed)
    v = np.linspace(-5, 5, 401, dtype=np.float32).reshape(1, -1, 1)
    y = layer(v).numpy()
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    assert y.min() == lo and y.max() == hi
    np.testing.assert_array_equal(y, np.round(y))


def test_scale_gradients_learned_pow2_pact():
    """Learned alpha gets its gradient from unclipped values, PACT only from clipped ones, pow2 none."""
    inside = np.full((1, 8, 1), 0.5, dtype=np.float32)   # alpha * v = 0.75 * 0.5: inside [0, 3]
    beyond = np.full((1, 8, 1), 50.0, dtype=np.float32)  # clipped at hi
    grads = {}
    for mode in ("learned", "pow2", "pact"):
        layer = Requantizer(2, scale_mode=mode, init_range=4.0)
        layer.build((1, 8, 1))
        for label, v in (("inside", inside), ("beyond", beyond)):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(v) * 1.0)
            grad = tape.gradient(loss, layer.log_alpha)
            grads[mode, label] = 0.0 if grad is None else float(tf.reduce_sum(tf.abs(grad)))
    assert grads["learned", "inside"] > 0 and grads["learned", "beyond"] == 0
    assert grads["pact", "inside"] == 0 and grads["pact", "beyond"] > 0
    assert grads["pow2", "inside"] == 0 and grads["pow2", "beyond"] == 0
    layer = Requantizer(4, scale_mode="pow2", init_range=3.0)
    layer.build((1, 8, 1))
    alpha = float(np.exp(layer.log_alpha.numpy()[0]))
    assert alpha == pytest.approx(2.0 ** round(np.log2(alpha)))


def test_every_trainable_variable_gets_a_gradient():
    keras.utils.set_random_seed(3)
    model = build_qat_model(default_spec("3/3"))
    x = np.random.default_rng(0).integers(0, 256, (4, 64, 1)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - 0.3) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    names = [v.path for v, g in zip(model.trainable_variables, grads) if g is None or not np.any(g.numpy())]
    assert not names, f"no gradient reaches {names}"
    assert any("log_scale" in v.path for v in model.trainable_variables)
    assert any("log_alpha" in v.path for v in model.trainable_variables)


@pytest.mark.parametrize("make", [
    lambda: QConv1D(4, 3, 9), lambda: QDense(4, 1), lambda: Requantizer(9), lambda: Requantizer(4, scale_mode="x"),
    lambda: QConv1D(0, 3, 4), lambda: QConv1D(4, 3, 4, input_scale=0.0)])
def test_bad_layer_settings_are_rejected(make):
    with pytest.raises(ConfigError):
        make()


@pytest.mark.parametrize("layer", [QConv1D(5, 3, 4, input_scale=0.5, name="c"), QDense(2, 7, name="d"),
                                   Requantizer(3, signed=True, per_channel=False, scale_mode="pact",
                                               init_range=1.5, name="r")])
def test_get_config_is_complete(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    keras.utils.set_random_seed(5)
    model = build_qat_model(default_spec("6-4-4-6/4-3-3", scale_mode="pact"))
    x = np.random.default_rng(1).integers(0, 256, (3, 40, 1)).astype(np.float32)
    model(x)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    assert [layer.get_config() for layer in loaded.layers[1:]] == [layer.get_config() for layer in model.layers[1:]]

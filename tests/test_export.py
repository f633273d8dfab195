"""Export to qnn-int/1: validity, round trips, widths never exceeded on worst-case inputs, clear errors."""
from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from qat_fixtures import adversarial_profiles, tiny_data, tiny_trained  # noqa: E402
from workbench.qnn import golden  # noqa: E402
from workbench.qnn.contract import ConvLayer, RequantLayer, bit_width, load_network  # noqa: E402
from workbench.errors import ExportError  # noqa: E402
from workbench.nn.export import HeadConfig, export_document, save_document  # noqa: E402
from workbench.nn.integer_mode import (freeze_integers, integer_scores, model_from_document, set_integer_mode,  # noqa: E402
                                    snap_multipliers, snap_scales)
from workbench.nn.models import build_float_model, build_qat_model, default_spec  # noqa: E402
from workbench.nn.qlayers import QConv1D, QDense, Requantizer  # noqa: E402
from workbench.qnn.randnet import random_document  # noqa: E402

HEAD = HeadConfig(threshold=5, frac_bits=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return tiny_trained(tmp_path_factory.mktemp("tiny"), bits="3/3")


def test_export_is_valid_and_reloads_to_the_same_integers(trained, tmp_path):
    doc = export_document(trained.model, HEAD, metadata={"bits": "3/3"})
    network = load_network(doc)
    assert [layer["type"] for layer in doc["layers"]] == [
        "qconv1d", "requantizer", "qconv1d", "requantizer", "qdense", "requantizer", "qconv1d"]
    assert doc["head"] == {"type": "peak", "threshold": 5, "refine": "parabolic", "frac_bits": 8, "window": 1}
    assert all(np.abs(layer.weights).max() <= 3 for layer in network.conv_layers)
    profiles = tiny_data(64, 9)[0]
    # the saved .keras, reloaded, exports the same document and computes the same integers
    loaded = keras.models.load_model(trained.path, compile=False)
    assert export_document(loaded, HEAD, metadata={"bits": "3/3"}) == doc
    set_integer_mode(loaded, True)
    from_doc = model_from_document(json.loads(save_document(doc, tmp_path / "m.json").read_text()))
    np.testing.assert_array_equal(integer_scores(loaded, profiles), integer_scores(from_doc, profiles))
    np.testing.assert_array_equal(integer_scores(loaded, profiles), golden.scores(network, profiles))


def worst_case_inputs(network, length: int) -> np.ndarray:
    """Profiles driving each first-layer channel to its bounds, plus the adversarial set."""
    first = network.conv_layers[0]
    hi = network.input_range[1]
    rows = []
    for o in range(first.out_channels):
        for sign in (1, -1):
            row = np.zeros(length, dtype=np.int64)
            centre = length // 2
            for t in range(first.kernel_size):
                row[centre + t - (first.kernel_size - 1) // 2] = hi if sign * first.weights[t, 0, o] > 0 else 0
            rows.append(row)
    return np.concatenate([np.array(rows), adversarial_profiles(np.random.default_rng(0), network.input_bits, 32,
                                                                length)])


def check_ranges(network, profiles) -> None:
    """No accumulator, product or output leaves its declared range (so no declared width is exceeded)."""
    outputs = golden.layer_outputs(network, profiles)
    first = True
    for layer, out, before in zip(network.layers, outputs, [None, *outputs[:-1]]):
        if isinstance(layer, ConvLayer):
            assert np.all(out >= layer.acc_min) and np.all(out <= layer.acc_max), layer.name
            width = max(bit_width(lo, hi) for lo, hi in zip(layer.acc_min, layer.acc_max))
            assert np.all(out >= -(1 << (width - 1))) and np.all(out <= (1 << (width - 1)) - 1)
            if first:  # the worst-case inputs reach the first layer's bounds exactly
                np.testing.assert_array_equal(out.max(axis=(0, 1)), layer.acc_max)
                np.testing.assert_array_equal(out.min(axis=(0, 1)), layer.acc_min)
                first = False
        else:
            assert isinstance(layer, RequantLayer)
            prod = before * layer.multiplier + layer.rounding
            assert np.all(prod >= layer.prod_min) and np.all(prod <= layer.prod_max), layer.name
            assert out.min() >= layer.lo and out.max() <= layer.hi


def test_exported_widths_are_never_exceeded(trained):
    doc = export_document(trained.model, HEAD)
    network = load_network(doc)
    check_ranges(network, worst_case_inputs(network, 64))
    for entry, layer in zip(doc["layers"], network.layers):
        key = "acc_bits" if isinstance(layer, ConvLayer) else "prod_bits"
        assert entry[key] >= 2


@pytest.mark.parametrize("seed", range(8))
def test_random_documents_never_exceed_their_ranges(seed):
    network = load_network(random_document(np.random.default_rng(seed), extreme_weights=seed % 2 == 0))
    check_ranges(network, worst_case_inputs(network, 24))


def frozen(model: keras.Model) -> keras.Model:
    model(np.zeros((1, 16, 1), dtype=np.float32))
    snap_scales(model)
    freeze_integers(model)
    return model


def chain(*layers) -> keras.Model:
    inputs = keras.Input((None, 1))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


def test_even_kernel_is_rejected_naming_the_layer():
    model = frozen(chain(QConv1D(4, 4, 4, name="evenconv"), Requantizer(4), QConv1D(1, 3, 4)))
    with pytest.raises(ExportError, match="evenconv.*even"):
        export_document(model, HEAD)


def test_multiplier_that_does_not_fit_is_rejected_naming_the_layer():
    model = chain(QConv1D(2, 3, 4), Requantizer(4, name="hugescale"), QConv1D(1, 3, 4))
    model(np.zeros((1, 8, 1), dtype=np.float32))
    model.get_layer("hugescale").log_alpha.assign(np.full(2, 30.0, dtype=np.float32))
    with pytest.raises(ExportError, match="hugescale.*16 bits"):
        snap_scales(model)
    with pytest.raises(ExportError, match="16 bits"):
        snap_multipliers(np.array([70000.0]), "x")
    multiplier, shift = snap_multipliers(np.array([0.75, 0.01]), "x")
    assert multiplier.max() < 1 << 16 and shift <= 48
    assert np.all(np.abs(multiplier / 2.0 ** shift - [0.75, 0.01]) <= 2.0 ** -(shift + 1))  # one shared shift


@pytest.mark.parametrize("make,match", [
    (lambda: chain(QConv1D(2, 3, 4, name="a"), QConv1D(1, 3, 4, name="b")), "b: follows a"),
    (lambda: chain(QConv1D(2, 3, 4), Requantizer(4), QDense(2, 4, name="wide")), "wide.*1 output channel"),
    (lambda: chain(QConv1D(2, 3, 4), Requantizer(4, name="tail")), "tail.*last layer"),
    (lambda: build_float_model(default_spec("4/4")), "not a QConv1D"),
])
def test_unrepresentable_structures_are_rejected(make, match):
    model = make()
    model(np.zeros((1, 16, 1), dtype=np.float32))
    with pytest.raises(ExportError, match=match):
        snap_scales(model)
        freeze_integers(model)
        export_document(model, HEAD)


def test_unsnapped_model_is_rejected():
    model = build_qat_model(default_spec("4/4"))
    model(np.zeros((1, 16, 1), dtype=np.float32))
    with pytest.raises(ExportError, match="not snapped|not frozen"):
        export_document(model, HEAD)


def test_bound_beyond_2_52_is_rejected():
    model = frozen(chain(QConv1D(1, 1, 8, name="huge"), ))
    model.get_layer("huge").integer_bias.assign(np.array([2.0 ** 53]))
    with pytest.raises(ExportError, match="huge"):
        export_document(model, HEAD)

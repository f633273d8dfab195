"""TFLite int8 baseline: full-integer conversion, LiteRT inference close to the float model, shared head."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from qat_fixtures import tiny_data  # noqa: E402
from workbench.qnn.contract import PeakHead  # noqa: E402
from workbench.detectors.interface import calibrate  # noqa: E402
from workbench.errors import ConfigError  # noqa: E402
from workbench.nn.models import default_spec  # noqa: E402
from workbench.qnn.detector import integer_detector  # noqa: E402
from workbench.nn.tflite_baseline import Int8Runner, calibration_sets, convert_int8  # noqa: E402
from workbench.nn.training import TrainConfig, train_float, training_data  # noqa: E402


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    config = TrainConfig(epochs=2, batch_size=32, seed=3)
    data = training_data(*tiny_data(256, 1), config)
    return train_float(default_spec("4/4"), data, data, config, tmp_path_factory.mktemp("f"),
                       progress=lambda _: None).model


def test_int8_model_is_fully_integer_and_close_to_float(float_model):
    profiles, truth = tiny_data(200, 4)
    runner = Int8Runner(convert_int8(float_model, profiles[:100]))
    assert runner.input["dtype"] == np.int8 and runner.output["dtype"] == np.int8
    tensor_types = {d["dtype"] for d in runner.interpreter.get_tensor_details()}
    assert tensor_types <= {np.int8, np.int32}, tensor_types  # weights/activations int8, biases int32
    scores = runner(profiles)
    assert scores.dtype == np.int64 and scores.shape == profiles.shape
    reference = float_model.predict(profiles.astype(np.float32)[:, :, None], verbose=0)[:, :, 0]
    error = np.abs(runner.dequantized(profiles) - reference)
    assert np.median(error) < 8 * runner.output_scale  # int8 rounding, not a broken conversion
    detector = calibrate(integer_detector("tflite", runner, PeakHead("parabolic", 1, 0, 8), bits="int8"),
                         profiles[truth["empty"]], integer=True)
    found, pos = detector.detect(profiles)
    assert found.any() and np.all(pos[~found] == 0)


def test_calibration_sets_are_random_disjoint_draws():
    sets = calibration_sets(600, sizes=(10, 100, 500), draws=3, seed=1)
    assert [(size, draw) for size, draw, _ in sets] == [(s, d) for s in (10, 100, 500) for d in range(3)]
    assert all(len(np.unique(index)) == size for size, _, index in sets)
    assert not np.array_equal(sets[0][2], sets[1][2])
    with pytest.raises(ConfigError):
        calibration_sets(50, sizes=(100,))
    with pytest.raises(ConfigError):
        convert_int8(None, np.zeros((0, 8)))

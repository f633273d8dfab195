"""Training: targets the head reproduces, determinism for a seed, saved model, checkpoints and log."""
from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from qat_fixtures import TINY_CONFIG, tiny_data, tiny_trained  # noqa: E402
from workbench.errors import ConfigError  # noqa: E402
from workbench.nn.models import (DEFAULT_TOPOLOGY, NetworkSpec, default_spec, format_topology, parse_bits,  # noqa: E402
                                  parse_topology)
from workbench.nn.detectors import float_head_positions  # noqa: E402
from workbench.nn.training import TrainConfig, read_log, score_targets, train_float, training_data  # noqa: E402


def test_parabolic_refinement_reproduces_the_parabola_target_exactly():
    centre = np.random.default_rng(0).uniform(5, 59, 500)
    target = score_targets(centre, np.zeros(500, bool), 64, "parabola", 2.0).astype(np.float64)
    _, pos = float_head_positions(target)
    np.testing.assert_allclose(pos, centre, atol=1e-5)
    _, gaussian_pos = float_head_positions(score_targets(centre, np.zeros(500, bool), 64, "gaussian", 1.0))
    assert np.abs(gaussian_pos - centre).max() > 1e-3  # the Gaussian target leaves an S-curve


def test_empty_profiles_have_a_zero_target():
    target = score_targets(np.array([np.nan, 10.0]), np.array([True, False]), 32)
    assert not target[0].any() and target[1].max() > 0.9


def test_training_is_deterministic_for_a_seed(tmp_path):
    first = tiny_trained(tmp_path / "a")
    second = tiny_trained(tmp_path / "b")
    for a, b in zip(first.model.weights, second.model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert first.log["phases"]["train"]["epochs"][-1]["loss"] == second.log["phases"]["train"]["epochs"][-1]["loss"]
    log = read_log(first.path)
    assert log["bits"] == "4/4" and log["macs_per_pixel"] == 464 and "finetune" in log["phases"]
    assert (tmp_path / "a" / "checkpoints" / "tiny-train.keras").is_file()
    assert json.loads((tmp_path / "a" / "tiny.log.json").read_text())["snap"]
    reloaded = keras.models.load_model(first.path, compile=False)
    x = tiny_data(4, 5)[0].astype(np.float32)[:, :, None]
    np.testing.assert_array_equal(reloaded(x).numpy(), first.model(x).numpy())


def test_float_twin_trains_and_saves(tmp_path):
    config = TrainConfig(epochs=1, batch_size=32, seed=1)
    data = training_data(*tiny_data(128, 1), config)
    trained = train_float(default_spec("4/4"), data, data, config, tmp_path, progress=lambda _: None)
    assert trained.path.is_file() and len(trained.log["phases"]["train"]["epochs"]) == 1


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError):
        TrainConfig(target="sinc")
    with pytest.raises(ConfigError):
        parse_bits("4", 4)
    with pytest.raises(ConfigError):
        default_spec("4-4/4")
    with pytest.raises(ConfigError):
        NetworkSpec(default_spec().layers[:-1], (4, 4, 4), (4, 4))  # score layer with 8 channels
    assert default_spec("6-4-4-6/4-3-3").bits_label == "6-4-4-6/4-3-3"
    assert TINY_CONFIG.seed == 7


def test_train_and_export_commands(tmp_path):
    from workbench.cli import main

    out = tmp_path / "models"
    assert main(["train", "--bits", "3/3", "--out", str(out), "--train", "200", "--val", "200", "--length", "64",
                 "--epochs", "1", "--finetune-epochs", "1", "--data-dir", str(tmp_path / "data")]) == 0
    assert (out / "qat_3-3.keras").is_file() and (out / "qat_3-3.json").is_file()
    threshold = read_log(out / "qat_3-3.keras")["head"]["threshold"]
    assert main(["export", str(out / "qat_3-3.keras"), "--out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["head"]["threshold"] == threshold
    assert again["layers"] == json.loads((out / "qat_3-3.json").read_text())["layers"]
    assert main(["export", str(tmp_path / "missing.keras")]) == 2


def test_topology_grammar_round_trips_the_default_and_custom_networks():
    assert format_topology(DEFAULT_TOPOLOGY) == "c8k7,c8k5,d8,c1k3"
    assert parse_topology("c8k7,c8k5,d8,c1k3") == DEFAULT_TOPOLOGY
    custom = parse_topology("c16k9, d4,c1k1")
    assert [(layer.kind, layer.channels, layer.kernel_size) for layer in custom] == [
        ("conv", 16, 9), ("dense", 4, 1), ("conv", 1, 1)]
    assert format_topology(custom) == "c16k9,d4,c1k1"
    assert default_spec("4/3", custom).macs_per_pixel == 9 * 16 + 16 * 4 + 4


@pytest.mark.parametrize("text, token", [("c8k7,x8,c1k3", "'x8'"), ("c8k4,c1k3", "'c8k4'"), ("c0k3,c1k3", "'c0k3'"),
                                         ("c8k7,,c1k3", "token 2 ''"), ("c8k7,d8", "'d8'"), ("c8,c1k3", "'c8'")])
def test_bad_topology_tokens_are_named(text, token):
    with pytest.raises(ConfigError, match=token):
        parse_topology(text)


def test_train_command_with_a_custom_topology(tmp_path, capsys):
    from workbench.cli import main
    from workbench.qnn.contract import load_network

    out = tmp_path / "models"
    assert main(["train", "--topology", "c4k5,d4,c1k3", "--bits", "4/4", "--out", str(out), "--train", "200",
                 "--val", "200", "--length", "64", "--epochs", "1", "--finetune-epochs", "1",
                 "--data-dir", str(tmp_path / "data")]) == 0
    network = load_network(out / "qat_4-4.json")
    assert [(layer.kind, layer.kernel_size, layer.out_channels) for layer in network.conv_layers] == [
        ("qconv1d", 5, 4), ("qdense", 1, 4), ("qconv1d", 3, 1)]
    assert main(["train", "--topology", "c4k5,q4,c1k3", "--out", str(out)]) == 2
    assert "'q4'" in capsys.readouterr().err


def test_train_command_float_records_its_calibrated_threshold(tmp_path):
    from workbench.cli import main
    from workbench.data.datasets import preset_splits
    from workbench.nn.detectors import calibrated_float

    out = tmp_path / "models"
    args = ["--train", "200", "--val", "200", "--length", "64", "--epochs", "1", "--seed", "3"]
    assert main(["train", "--float", "--out", str(out), *args, "--data-dir", str(tmp_path / "data")]) == 0
    threshold = read_log(out / "float.keras")["threshold"]
    assert not (out / "float.json").exists()  # no qnn-int/1 document for the float twin
    val = preset_splits("mixed", 3, {"val": 200}, 64, tmp_path / "data")["val"]
    model = keras.models.load_model(out / "float.keras", compile=False)
    recalibrated = calibrated_float("float", model, val.profiles[val.truth["empty"]])
    assert recalibrated.threshold == pytest.approx(threshold, rel=1e-6)


def test_peak_loss_position_term_is_the_vertex_error_and_serializes():
    from workbench.nn.training import PeakLoss

    config = TrainConfig(position_weight=1.0, position_min_snr=0.0)
    profiles, truth = tiny_data(64, 4)
    data = training_data(profiles, truth, config)
    assert data.targets.shape == (*profiles.shape, 3)
    line = ~truth["empty"]
    assert data.targets[..., 1].sum() == line.sum()
    loss = PeakLoss(1.0)
    assert float(loss(data.targets, data.targets[..., :1])) == pytest.approx(0.0, abs=1e-6)
    # a unit parabola centred 0.1 px off: the term is the vertex error squared, per line profile
    shifted = score_targets(np.where(line, truth["centre"] + 0.1, np.nan), truth["empty"], profiles.shape[1])
    mse = float(np.mean(np.square(shifted - data.targets[..., 0])))
    expected = mse + 0.01 * line.sum() / len(line)
    assert float(loss(data.targets, shifted[..., None])) == pytest.approx(expected, rel=1e-3)
    assert PeakLoss.from_config(loss.get_config()).position_weight == 1.0


def test_position_term_covers_only_lines_at_or_above_the_minimum_snr():
    profiles, truth = tiny_data(64, 4)
    clear = ~truth["empty"] & (truth["snr"] >= 8.0)
    assert 0 < clear.sum() < (~truth["empty"]).sum()
    mask = training_data(profiles, truth, TrainConfig(position_min_snr=8.0)).targets[..., 1]
    np.testing.assert_array_equal(mask.sum(axis=1), clear.astype(np.float32))


def test_minimum_snr_without_the_lines_snr_is_an_error():
    profiles, truth = tiny_data(16, 4)
    del truth["snr"]
    with pytest.raises(ConfigError, match="snr"):
        training_data(profiles, truth, TrainConfig(position_min_snr=8.0))
    assert training_data(profiles, truth, TrainConfig(position_min_snr=0.0)).targets[..., 1].sum() > 0


def test_amplitude_height_without_the_lines_amplitude_is_an_error():
    profiles, truth = tiny_data(16, 4)
    del truth["amplitude"]
    with pytest.raises(ConfigError, match="amplitude"):
        training_data(profiles, truth, TrainConfig(target_height="amplitude"))

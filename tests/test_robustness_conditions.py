"""The robustness conditions (issue 12 part 3): line shapes, widths, fixed-pattern noise and sensor depths
outside the training distribution, their noiseless properties, their bound and the networks' refusal."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.data import signals
from workbench.data.datasets import TEST_CONDITIONS, benchmark_splits, load_or_generate
from workbench.data.signals import preset
from workbench.detectors import classical
from workbench.errors import ConfigError
from workbench.evaluation import bound
from workbench.evaluation.tables import evaluate
from workbench.qnn.contract import load_network
from workbench.qnn.detector import golden_detector
from workbench.qnn.randnet import random_document

ONE = np.array([1.0])


def line_of(name: str, centre: float, sigma: float, amplitude: float = 100.0, length: int = 64) -> np.ndarray:
    """The noiseless pixel-integrated line of a preset's shape."""
    config = preset(name, length=length)
    return signals.pixel_line(config, np.array([centre]), np.array([sigma]), np.array([amplitude]))[0]


def scene_lines(name: str, n: int = 300, seed: int = 3) -> tuple[np.ndarray, signals.NoiselessScene]:
    """(lines without background, scene) of a preset's line profiles (a positive background: nothing clipped)."""
    scene = next(signals.scenes(preset(name, empty_fraction=0.0, offset_range=(0.03, 0.06)), n, seed))
    return scene.expected - scene.background, scene


def test_robustness_conditions_are_test_conditions_and_presets_only():
    assert set(signals.ROBUSTNESS_CONDITIONS) <= set(TEST_CONDITIONS) and len(signals.ROBUSTNESS_CONDITIONS) == 7
    assert set(signals.ROBUSTNESS_CONDITIONS) <= set(signals.PRESETS)
    assert not set(signals.ROBUSTNESS_CONDITIONS) & set(signals.CLEAN_CONDITIONS)
    for name in signals.ROBUSTNESS_CONDITIONS:
        config = signals.PRESETS[name]
        assert config.reflection_fraction == 0 and signals.preset_snr(name) == 16.0


def test_the_shape_code_reduces_to_the_gaussian():
    edges = np.arange(65, dtype=np.float64)[None, :] - 0.5
    cdf = signals._shaped_line_cdf(edges, np.array([[30.3]]), np.array([[1.2]]), 1.0, 0.0)
    gaussian = signals.pixel_gaussian(np.array([30.3]), np.array([1.2]), np.array([1.0]), 64)[0]
    np.testing.assert_allclose(np.diff(cdf, axis=1)[0], gaussian, rtol=0, atol=1e-12)
    asym = signals._shaped_line_cdf(edges, np.array([[30.3]]), np.array([[1.2]]), 2.0, 0.0)
    assert abs(np.diff(asym, axis=1)[0] - gaussian).max() > 0.1  # control: another shape differs


def test_asymmetric_line_has_its_stated_ratio_and_peak():
    config = signals.PRESETS["asymmetric"]
    line = line_of("asymmetric", 30.5, 1.0)  # centre on a pixel edge: the halves fall in separate pixels
    left, right = line[:31].sum(), line[31:].sum()
    assert config.asymmetry == 1.5
    assert right / left == pytest.approx(config.asymmetry, rel=1e-9)
    assert left == pytest.approx(100.0 * 1.0 * math.sqrt(math.pi / 2), rel=1e-9)
    assert np.argmax(line) == 31 and line[31] > line[30]  # the wide half holds more of the peak's pixels
    lines, scene = scene_lines("asymmetric")
    area = scene.amplitude * scene.sigma * math.sqrt(math.pi / 2) * (1 + config.asymmetry)
    inner = (scene.centre > 20) & (scene.centre < lines.shape[1] - 21)  # no tail beyond the profile's ends
    np.testing.assert_allclose(lines.sum(axis=1)[inner], area[inner], rtol=1e-9)
    assert inner.sum() > 250 and scene.sigma.min() >= 0.7 and scene.sigma.max() <= 1.5


def test_top_hat_line_has_its_flat_top():
    config = signals.PRESETS["top_hat"]
    assert config.flat_top == 4.0
    for width in (4.0, 6.0):
        cfg = preset("top_hat", length=64, flat_top=width)
        line = signals.pixel_line(cfg, np.array([30.0]), np.array([0.7]), np.array([100.0]))[0]
        at_top = np.flatnonzero(np.abs(line - 100.0) < 1e-9)
        assert at_top.tolist() == list(range(30 - int(width / 2) + 1, 30 + int(width / 2)))  # width - 1 whole pixels
        assert line.sum() == pytest.approx(100.0 * (width + 0.7 * math.sqrt(2 * math.pi)), rel=1e-9)
        assert line.max() == pytest.approx(100.0, abs=1e-9)
    assert signals.line_peak_fraction(config, np.array([0.7, 1.5])).tolist() == [1.0, 1.0]
    lines, scene = scene_lines("top_hat")
    np.testing.assert_allclose(lines.max(axis=1), scene.amplitude, rtol=1e-9)  # the top is at A, whatever the phase


@pytest.mark.parametrize("name, sigma", [("sigma_0.5", 0.5), ("sigma_4", 4.0)])
def test_sigma_outside_the_training_range(name: str, sigma: float):
    assert not signals.PRESETS["mixed"].sigma_range[0] <= sigma <= signals.PRESETS["mixed"].sigma_range[1]
    lines, scene = scene_lines(name)
    assert np.all(scene.sigma == sigma)
    x = np.arange(lines.shape[1])[None, :] - scene.centre[:, None]
    variance = (lines * x**2).sum(axis=1) / lines.sum(axis=1)
    np.testing.assert_allclose(variance, sigma**2 + 1 / 12, rtol=0.05)  # pixel integration adds 1/12 px^2
    assert variance.mean() == pytest.approx(sigma**2 + 1 / 12, rel=0.005)  # exactly so on average over phases
    assert scene.centre.min() >= signals.PRESETS[name].edge_margin


def test_snr_is_kept_for_the_new_shapes():
    for name in ("asymmetric", "top_hat"):
        config = signals.PRESETS[name]
        _, truth = signals.generate(preset(name, empty_fraction=0.0), 200, 5)
        background = np.zeros(200) + 5.0
        amplitude = signals.amplitude_for_snr(np.full(200, 16.0), background, truth["sigma"], config)
        np.testing.assert_allclose(signals.snr_of(amplitude, background, truth["sigma"], config), 16.0)
        np.testing.assert_allclose(truth["snr"][~truth["empty"]], 16.0, rtol=1e-12)


def test_fixed_pattern_is_one_per_dataset_and_differs_across_seeds():
    flat = dict(empty_fraction=1.0, offset_range=(0.2, 0.2), slope_max=0.0, bump_max=0.0)
    config = preset("fixed_pattern", **flat)
    n = signals.CHUNK + 100  # two chunks: the pattern spans them
    expected = np.concatenate([s.expected for s in signals.scenes(config, n, 7)])
    pattern = signals.fixed_pattern(config, 7)
    want = pattern.gain * (0.2 * config.full_scale) + pattern.offset
    assert np.array_equal(expected, np.broadcast_to(want, expected.shape)) and expected.size == n * config.length
    other = signals.fixed_pattern(config, 8)
    assert not np.array_equal(other.gain, pattern.gain) and not np.array_equal(other.offset, pattern.offset)
    assert np.array_equal(signals.fixed_pattern(config, 7).gain, pattern.gain)
    assert abs(pattern.gain.std() - 0.03) < 0.01 and abs(pattern.offset.std() - 0.008 * 255) < 0.6
    profiles, _ = signals.generate(config, 4000, 7)
    mean = profiles.mean(axis=0)
    assert np.corrcoef(mean, want)[0, 1] > 0.9  # the noisy data carry the pattern
    assert abs(np.corrcoef(mean, other.gain * 0.2 * 255 + other.offset)[0, 1]) < 0.3  # not another seed's
    assert signals.fixed_pattern(signals.PRESETS["mixed"], 7) is None
    with pytest.raises(ConfigError, match="fpn_gain"):
        signals.render_lines(config, np.array([30.0]), ONE, np.array([False]), np.random.default_rng(0))


@pytest.mark.parametrize("name, bits", [("bits_10", 10), ("bits_12", 12)])
def test_deeper_sensors_use_their_full_range(name: str, bits: int):
    full_scale = (1 << bits) - 1
    profiles, truth = signals.generate(preset(name, length=96), 400, 3)
    shallow, _ = signals.generate(preset(name, length=96, bits=8), 400, 3)  # the same scenes on an 8-bit sensor
    line = ~truth["empty"]
    ratio = np.median(profiles[line].max(axis=1)) / np.median(shallow[line].max(axis=1))
    assert ratio == pytest.approx(full_scale / 255, rel=0.1) and profiles.max() <= full_scale
    saturating = preset(name, length=96, snr_range=None, amplitude_range=(1.0, 2.0))
    profiles, truth = signals.generate(saturating, 400, 3)
    assert profiles.max() == full_scale and truth["saturated"][~truth["empty"]].mean() > 0.9
    assert signals.is_clean(signals.PRESETS[name])


def test_clean_means_the_bounds_model():
    clean = {name for name in signals.ROBUSTNESS_CONDITIONS if signals.is_clean(signals.PRESETS[name])}
    assert clean == {"sigma_0.5", "sigma_4", "bits_10", "bits_12"}
    assert {n for n in signals.PRESETS if bound.has_bound(signals.PRESETS[n])} == \
        set(signals.PRESETS) - {"asymmetric", "top_hat", "fixed_pattern"}


def test_no_bound_for_the_shapes_and_the_pattern(tmp_path: Path):
    detector, _ = classical.tune("br8", load_or_generate(preset("mixed", length=64), 1, 400, tmp_path, "mixed"))
    sets = {name: load_or_generate(preset(name, length=64), 2, 300, tmp_path, name)
            for name in ("asymmetric", "top_hat", "fixed_pattern", "sigma_0.5")}
    rows, _ = evaluate([detector], sets, draws=20)
    by_condition = {r["condition"]: r for r in rows}
    for name in ("asymmetric", "top_hat", "fixed_pattern"):
        assert np.isnan(bound.dataset_bounds(sets[name]).known).all()
        row = by_condition[name]
        assert math.isnan(row["crlb_px"]) and math.isnan(row["efficiency"]) and row["n_good"] > 0
    line = ~sets["sigma_0.5"].truth["empty"]
    assert np.isfinite(bound.dataset_bounds(sets["sigma_0.5"]).known[line]).all() and line.sum() > 200
    assert 0 < by_condition["sigma_0.5"]["crlb_px"] < 0.2


def test_the_datasets_stage_makes_every_robustness_condition(tmp_path: Path):
    sizes = {"train": 50, "val": 50, "test": 40, "val_condition": 40}
    splits = benchmark_splits(4, sizes, tmp_path, conditions=("mixed", *signals.ROBUSTNESS_CONDITIONS), length=64)
    assert set(splits.test) == set(splits.val_by_condition) == {"mixed", *signals.ROBUSTNESS_CONDITIONS}
    assert splits.test["bits_12"].config.bits == 12 and splits.val_by_condition["bits_10"].config.bits == 10
    assert splits.train.condition == "mixed" and splits.train.config.bits == 8  # nobody trains on them


@pytest.fixture()
def eight_bit_document(tmp_path: Path) -> Path:
    """A random 8-bit-input network (what it detects does not matter here)."""
    path = tmp_path / "qat.json"
    path.write_text(json.dumps(random_document(np.random.default_rng(5), input_bits=8)))
    return path


def test_an_8_bit_network_refuses_deeper_profiles(tmp_path: Path, eight_bit_document: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    deep = load_or_generate(preset("bits_12", length=64), 31, 200, tmp_path, "bits_12")
    deep_val = load_or_generate(preset("bits_12", length=64), 32, 200, tmp_path, "bits_12-val")
    val = load_or_generate(preset("mixed", length=64), 33, 200, tmp_path, "mixed-val")
    shallow = load_or_generate(preset("snr_16", length=64), 34, 200, tmp_path, "snr_16")
    cases = [([str(deep.path), "--validation", str(val.path)], "other sensor depths than the 8-bit validation set"),
             ([str(shallow.path), str(deep.path), "--validation", str(val.path)], "{'bits_12': 12}"),
             ([str(deep.path), "--validation", str(deep_val.path)], "8-bit input but the datasets are 12-bit")]
    for args, phrase in cases:
        out = tmp_path / "out"
        assert main(["evaluate", *args, "--methods", "none", "--models", str(eight_bit_document),
                     "--draws", "20", "--out", str(out)]) == 2, phrase
        err = capsys.readouterr().err.strip()
        assert phrase in err and "\n" not in err, err
        assert not out.exists()
    detector = golden_detector("qat", load_network(eight_bit_document), "8/8")
    with pytest.raises(ConfigError, match="outside the 8-bit input range"):
        detector.detect(deep.profiles)
    found, pos = detector.detect(shallow.profiles)  # control: its own depth runs
    assert found.shape == pos.shape == (len(shallow),)


def test_classical_stage_sets_thresholds_at_each_sensor_depth(tmp_path: Path) -> None:
    import logging

    from experiments.stages import classical as stage
    from workbench.data.datasets import write_split_index
    from workbench.evaluation.tables import read_csv
    from workbench.pipeline.stages import RunConfig, StageContext

    deps = {"datasets": tmp_path / "datasets"}
    deps["datasets"].mkdir()
    (tmp_path / "out" / "tables").mkdir(parents=True)
    sizes = {"train": 10, "val": 600, "test": 400, "val_condition": 600}
    splits = benchmark_splits(1, sizes, tmp_path / "data", conditions=("mixed", "snr_16", "bits_12"), length=128)
    write_split_index(splits, deps["datasets"])
    ctx = StageContext("classical", tmp_path / "out", deps, RunConfig("quick", 3), {"methods": ["argmax", "br8"],
                       "draws": 20}, logging.getLogger("test"), tmp_path)
    stage.run(ctx)
    rows = {(r["method"], r["condition"]): r for r in read_csv(ctx.out / "tables" / "accuracy_classical.csv")}
    methods = ("argmax", "br8", "gauss_fit", "matched_filter")
    assert set(rows) == {(m, c) for m in methods for c in ("mixed", "snr_16", "bits_12")}
    deep = json.loads((ctx.out / "classical_depth_thresholds.json").read_text())
    shallow = json.loads((ctx.out / "classical_choices.json").read_text())
    assert set(deep) == {"bits_12"} and set(deep["bits_12"]) == set(methods)
    assert deep["bits_12"]["br8"] > 4 * shallow["br8"]["threshold"]  # DN thresholds scale with the depth
    assert all(rows[m, "bits_12"]["false_alarm_rate"] <= 0.1 for m in methods)
    test = splits.test["bits_12"]
    tuned, _ = classical.tune("br8", splits.val)
    found, _ = tuned.detect(test.profiles[test.truth["empty"]])
    assert found.mean() > 0.5  # control: the 8-bit threshold fires on most empty 12-bit profiles

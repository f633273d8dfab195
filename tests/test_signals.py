"""Generator: determinism, ground truth, saturation, empty profiles, SNR, bad parameters, speed."""

import math

import numpy as np
import pytest

from workbench.data import signals
from workbench.data.datasets import content_hash
from workbench.errors import ConfigError
from workbench.data.signals import GeneratorConfig, generate, preset


def test_same_seed_same_hash_other_seed_other_hash():
    cfg = GeneratorConfig(length=128)
    a, b, c = generate(cfg, 300, 5), generate(cfg, 300, 5), generate(cfg, 300, 6)
    assert content_hash(*a) == content_hash(*b)
    assert content_hash(*a) != content_hash(*c)


def test_shapes_dtypes_and_range_for_every_bit_depth():
    for bits in (8, 10, 12):
        profiles, truth = generate(GeneratorConfig(length=64, bits=bits), 200, 1)
        assert profiles.shape == (200, 64) and profiles.dtype == np.uint16
        assert profiles.max() <= (1 << bits) - 1
        assert set(truth) == set(signals.TRUTH_KEYS)
        assert all(v.shape == (200,) for v in truth.values())


def test_truth_centre_is_the_brightest_region_on_clean_lines():
    cfg = preset("snr_64", empty_fraction=0.0, offset_range=(0.0, 0.0), slope_max=0.0, bump_max=0.0)
    profiles, truth = generate(cfg, 500, 2)
    assert np.abs(np.argmax(profiles, axis=1) - truth["centre"]).max() <= 1.5
    margin = cfg.edge_margin
    assert truth["centre"].min() >= margin and truth["centre"].max() <= cfg.length - 1 - margin
    assert truth["sigma"].min() >= cfg.sigma_range[0] and truth["sigma"].max() <= cfg.sigma_range[1]


def test_noiseless_line_matches_pixel_integrated_gaussian():
    line = signals.pixel_gaussian(np.array([30.3]), np.array([1.2]), np.array([100.0]), 64)[0]
    step = 1.0 / 200
    x = np.arange(64 * 200) * step - 0.5 + step / 2  # midpoints of 200 slices per pixel
    dense = 100.0 * np.exp(-0.5 * ((x - 30.3) / 1.2) ** 2)
    integral = np.add.reduceat(dense * step, np.arange(0, 64 * 200, 200))
    np.testing.assert_allclose(line, integral, atol=1e-3)
    assert abs(line.sum() - 100.0 * 1.2 * np.sqrt(2 * np.pi)) < 1e-6


def test_fixed_snr_presets_hit_their_snr_and_measured_noise_agrees():
    cfg = preset("snr_8", empty_fraction=0.0, slope_max=0.0, bump_max=0.0, offset_range=(0.05, 0.05),
                 sigma_range=(2.0, 2.0))
    _, truth = generate(cfg, 400, 3)
    np.testing.assert_allclose(truth["snr"], 8.0, rtol=1e-9)
    fs = cfg.full_scale
    bg = 0.05 * fs
    np.testing.assert_allclose(signals.snr_of(truth["amplitude"], np.full(400, bg), truth["sigma"], cfg), 8.0)
    # empirical noise at the peak pixel: repeat one line many times
    n = 4000
    cfg1 = GeneratorConfig(length=64, sigma_range=(2.0, 2.0), edge_margin=31.5, offset_range=(0.05, 0.05),
                           slope_max=0.0, bump_max=0.0, snr_range=(8.0, 8.0), empty_fraction=0.0,
                           reflection_fraction=0.0)
    profiles, t = generate(cfg1, n, 4)
    peak = profiles[:, 31].astype(float)
    expected = signals.pixel_gaussian(t["centre"], t["sigma"], t["amplitude"], 64)[:, 31] + bg
    measured = np.std(peak - expected)
    amplitude = t["amplitude"][0]
    assert amplitude / measured == pytest.approx(8.0, rel=0.1)


def test_saturation_flags_and_empty_profiles():
    profiles, truth = generate(preset("saturated", empty_fraction=0.2), 1000, 7)
    line = ~truth["empty"]
    assert truth["saturated"][line].mean() > 0.9
    assert not truth["saturated"][truth["empty"]].any()
    fs = 255
    assert ((profiles == fs).any(axis=1) >= truth["saturated"]).all()
    assert 0.15 < truth["empty"].mean() < 0.25
    assert np.isnan(truth["centre"][truth["empty"]]).all()
    assert (truth["amplitude"][truth["empty"]] == 0).all()
    _, unsat = generate(preset("unsaturated"), 1000, 7)
    assert unsat["saturated"].mean() < 0.01


def test_empty_profiles_have_no_line():
    cfg = GeneratorConfig(empty_fraction=1.0, bump_max=0.0, slope_max=0.0, offset_range=(0.04, 0.04))
    profiles, truth = generate(cfg, 300, 8)
    assert truth["empty"].all() and not truth["reflection"].any()
    assert profiles.max() < 0.04 * 255 + 12  # background plus a few noise sigmas, no line


def test_reflections_are_weaker_and_away_from_the_line():
    quiet = dict(empty_fraction=0.0, read_noise=1.0, full_well=1e8, bump_max=0.0, slope_max=0.0,
                 offset_range=(0.0, 0.0), snr_range=None, amplitude_range=(0.3, 0.6))
    cfg = preset("reflections", **quiet)
    profiles, truth = generate(cfg, 300, 9)
    assert truth["reflection"].all()
    clean_cfg = preset("no_reflections", **quiet)
    clean, _ = generate(clean_cfg, 300, 9)
    extra = profiles.astype(float) - clean.astype(float)  # same draws up to the reflections
    assert (extra.sum(axis=1) > 0).all()
    assert np.abs(np.argmax(profiles, axis=1) - truth["centre"]).max() <= 1.5


def test_speckle_changes_the_line_only_when_enabled():
    base = preset("speckle", speckle_contrast=0.0)
    a, _ = generate(base, 200, 10)
    b, _ = generate(preset("speckle"), 200, 10)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("overrides, word", [
    ({"length": 32}, "length"), ({"length": 4096}, "length"), ({"bits": 9}, "depth"),
    ({"sigma_range": (3.0, 1.0)}, "sigma_range"), ({"empty_fraction": 1.5}, "empty_fraction"),
])
def test_bad_parameters_raise_config_error_naming_the_value(overrides, word):
    with pytest.raises(ConfigError, match=word):
        preset("mixed", **overrides)


def test_bad_preset_size_and_seed():
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        preset("nope")
    with pytest.raises(ConfigError, match="number of profiles 0"):
        generate(GeneratorConfig(), 0, 1)
    with pytest.raises(ConfigError, match="seed -1"):
        generate(GeneratorConfig(), 10, -1)


# content hashes of `generate(preset(name, length=96), 300, 11)` made by the generator before the noiseless
# scenes were split out of it (commit 89315a5's signals.py): existing datasets must keep their content
PRESET_HASHES = {
    "mixed": "a22fd155e84dffac", "snr_2": "776deb91560fd7d4", "snr_4": "6d86b2bda9f17b9c",
    "snr_8": "aced984f163e5b5f", "snr_16": "3da88fb41937bc66", "snr_32": "cadb4e8aae0166a2",
    "snr_64": "6f18040efe5adf7e", "sigma_0.7": "f2ed48e88dac9161", "sigma_1.5": "601054e908ba981f",
    "sigma_3": "6d4709c8901de65a", "reflections": "1481a17488f6a78e", "no_reflections": "67d43c9aeb0326a8",
    "saturated": "165cfdb896f36571", "unsaturated": "36514f68e5407ba2", "speckle": "81830923daa97775",
}


def test_existing_presets_keep_their_content_hash():
    hashes = {name: content_hash(*generate(preset(name, length=96), 300, 11))[:16] for name in PRESET_HASHES}
    assert len(hashes) == 15 and hashes == PRESET_HASHES
    assert content_hash(*generate(preset("mixed", length=96), 300, 12))[:16] != PRESET_HASHES["mixed"]


@pytest.mark.parametrize("name", ["mixed", "speckle"])
def test_scenes_replay_the_draws_of_generate(name):
    cfg = preset(name, length=96)
    n = signals.CHUNK + 50  # two chunks
    profiles, truth = generate(cfg, n, 4)
    parts = list(signals.scenes(cfg, n, 4))
    assert [p.expected.shape for p in parts] == [(signals.CHUNK, 96), (50, 96)]
    scene = {key: np.concatenate([getattr(p, key) for p in parts]) for key in ("expected", "centre", "empty",
                                                                                "amplitude", "reflection")}
    assert np.array_equal(scene["empty"], truth["empty"]) and np.array_equal(scene["reflection"], truth["reflection"])
    line = ~truth["empty"]
    assert np.array_equal(scene["centre"][line], truth["centre"][line])
    assert np.array_equal(scene["amplitude"], truth["amplitude"])
    # the noise is drawn around the expectation: unsaturated residuals have mean ~0 and the model's spread
    inside = (scene["expected"] > 20) & (scene["expected"] < cfg.full_scale - 40)  # far from both clipping limits
    residual = (profiles - scene["expected"])[inside]
    assert abs(residual.mean()) < 0.02 and 1.5 < residual.std() < 6.0
    other = np.concatenate([p.expected for p in signals.scenes(cfg, n, 5)])
    assert np.abs(profiles - other)[inside].mean() > 3 * np.abs(residual).mean()


def test_clean_presets_are_the_sweeps_and_nothing_else_is_clean():
    clean = {name for name in signals.PRESETS if signals.is_clean(signals.PRESETS[name])}
    assert set(signals.CLEAN_CONDITIONS) <= clean
    assert len(signals.CLEAN_CONDITIONS) == 9
    assert not clean & {"mixed", "reflections", "saturated", "speckle"}
    assert not signals.is_clean(preset("snr_16", bits=8, amplitude_range=(1.0, 2.0), snr_range=None))
    assert not signals.is_clean(preset("snr_16", speckle_contrast=0.1))
    assert not signals.is_clean(preset("snr_16", reflection_fraction=0.2))
    for name in signals.CLEAN_CONDITIONS:  # the model never saturates them: no profile at full scale near a line
        profiles, truth = generate(preset(name, length=96), 2000, 8)
        assert not truth["saturated"].any() and not truth["reflection"].any()


def test_worst_case_peak_bounds_the_noiseless_peaks():
    cfg = preset("snr_64", length=96)
    scene = next(signals.scenes(cfg, 3000, 1))
    assert scene.expected.max() <= signals.worst_case_peak(cfg) < cfg.full_scale


def test_portable_exp_is_the_c_librarys_exp_bit_for_bit():
    from workbench.data.signals import portable_exp

    x = np.random.default_rng(4).uniform(-40.0, 5.0, size=(50, 200))
    ours = portable_exp(x)
    expected = np.array([math.exp(v) for v in x.ravel()]).reshape(x.shape)
    assert ours.shape == x.shape and ours.size == 10_000
    assert np.array_equal(ours.view(np.int64), expected.view(np.int64))  # every bit
    assert not np.array_equal(portable_exp(x + 1e-12).view(np.int64), expected.view(np.int64))  # control

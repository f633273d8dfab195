"""Cramér–Rao bound of the line centre: analytic case, derivatives, censoring, windows, datasets."""
import math

import numpy as np
import pytest
from scipy.special import ndtr

from workbench.data import datasets, signals
from workbench.data.signals import GeneratorConfig, NoiselessScene
from workbench.errors import DatasetError
from workbench.evaluation import bound


def _scene(centre, sigma, amplitude, length, background=50.0) -> NoiselessScene:
    centre, sigma, amplitude = (np.asarray(v, dtype=np.float64) for v in (centre, sigma, amplitude))
    line = signals.pixel_gaussian(centre, sigma, amplitude, length)
    n = centre.size
    bg = np.full((n, length), background)
    return NoiselessScene(bg + line, bg, np.ones_like(line), centre, sigma, amplitude, np.zeros(n),
                 np.zeros(n, dtype=bool), amplitude == 0)


def test_known_bound_of_a_wide_line_under_constant_noise_is_the_analytic_one():
    # shot noise negligible (huge full well): v = read^2 + 1/12; for a line much wider than a pixel
    # I(c) = A^2 / v * integral (d/dc exp(-(x-c)^2 / (2 s^2)))^2 dx = A^2 sqrt(pi) / (2 s v)
    config = GeneratorConfig(length=512, full_well=9e8, read_noise=9e8 / 255 * 2.0)
    sigma, amplitude = np.array([20.0, 28.0]), np.array([100.0, 60.0])
    result = bound.scene_bounds(_scene([256.3, 200.0], sigma, amplitude, 512), config)
    v = 4.0 + 1.0 / 12.0
    expected = 2.0 * sigma * v / (amplitude**2 * math.sqrt(math.pi))
    assert result.known.shape == (2,)
    np.testing.assert_allclose(result.known, expected, rtol=1e-3)
    assert not np.allclose(result.known, expected * 1.01, rtol=1e-3)  # the tolerance separates 1% errors


def test_line_derivatives_match_finite_differences():
    c, s, a = np.array([30.3, 12.0]), np.array([1.2, 0.7]), np.array([100.0, 40.0])
    d_c, d_a, d_s = bound.line_derivatives(c, s, a, 64)
    h = 1e-6
    for got, shift in ((d_c, (h, 0, 0)), (d_a, (0, h, 0)), (d_s, (0, 0, h))):
        up = signals.pixel_gaussian(c + shift[0], s + shift[2], a + shift[1], 64)
        down = signals.pixel_gaussian(c - shift[0], s - shift[2], a - shift[1], 64)
        numeric = (up - down) / (2 * h)
        assert np.abs(numeric).max() > 0.1
        np.testing.assert_allclose(got, numeric, atol=1e-5 * np.abs(numeric).max())


def _numeric_censored_information(mean: float, variance: float, full_scale: int) -> float:
    """Fisher information of the censored outcome from finite differences of its bin probabilities."""
    std = math.sqrt(variance)
    edges = np.linspace(0.5, full_scale - 0.5, 200_001)

    def probabilities(m):
        cdf = ndtr((edges - m) / std)
        return np.concatenate([[cdf[0]], np.diff(cdf), [1.0 - cdf[-1]]])

    h = 1e-4
    p, dp = probabilities(mean), (probabilities(mean + h) - probabilities(mean - h)) / (2 * h)
    keep = p > 1e-300
    return float(np.sum(dp[keep] ** 2 / p[keep]) * variance)


@pytest.mark.parametrize("mean", [1.0, 3.0, 252.0, 254.5, 257.0])
def test_censoring_factor_matches_a_numeric_fisher_information(mean):
    factor = bound.censoring_factor(np.array([mean]), np.array([4.0]), 255)[0]
    assert factor == pytest.approx(_numeric_censored_information(mean, 4.0, 255), abs=2e-4)


def test_censoring_factor_limits():
    factor = bound.censoring_factor(np.array([128.0, 300.0, -20.0]), np.array([4.0, 4.0, 4.0]), 255)
    assert factor[0] == 1.0 and factor[1] < 1e-12 and factor[2] < 1e-12


def test_saturation_raises_the_bound():
    config = GeneratorConfig()
    low, high = bound.scene_bounds(_scene([100.3, 100.3], [1.5, 1.5], [150.0, 600.0], 256, background=10.0), config).known
    unclipped = _scene([100.3], [1.5], [600.0], 256, background=10.0)
    assert high > 0 and np.isfinite(high)
    # without censoring, four times the amplitude would give a much smaller bound than with it
    variance = bound.pixel_variance(unclipped.expected, config)
    d_c = bound.line_derivatives(unclipped.centre, unclipped.sigma, unclipped.amplitude, 256)[0]
    assert high > 1.5 / np.sum(d_c**2 / variance)


def test_free_bound_costs_more_in_short_windows_and_little_over_the_whole_profile():
    config = GeneratorConfig()
    scene = _scene([100.3, 60.7, 150.1], [0.8, 1.5, 3.0], [40.0, 40.0, 40.0], 256, background=20.0)
    known = bound.scene_bounds(scene, config).known
    free = {w: bound.scene_bounds(scene, config, window=w).free for w in (6, 10, 120)}
    assert np.all(free[120] >= known * (1 - 1e-9)) and np.all(free[120] <= known * 1.03)
    assert np.all(free[6] > free[10]) and np.all(free[10] > free[120])


def test_empty_profiles_have_no_bound():
    scene = _scene([100.3, 0.0], [1.5, 1.0], [40.0, 0.0], 256)
    result = bound.scene_bounds(scene, GeneratorConfig())
    assert np.isfinite(result.known[0]) and np.isnan(result.known[1]) and np.isnan(result.free[1])


def test_dataset_bounds_follow_subsets_and_reject_foreign_lines(tmp_path):
    config = signals.preset("snr_16", length=128)
    dataset = datasets.load_or_generate(config, 3, 400, tmp_path, condition="snr_16")
    full = bound.dataset_bounds(dataset)
    line = ~dataset.truth["empty"]
    assert np.isfinite(full.known[line]).all() and np.isnan(full.known[~line]).all()
    assert np.all(full.free[line] >= full.known[line])
    index = np.arange(399, 0, -7)
    part = bound.dataset_bounds(dataset.subset(index))
    assert np.array_equal(part.known, full.known[index], equal_nan=True) and np.isfinite(part.known).sum() > 40
    other = datasets.load_or_generate(config, 4, 400, tmp_path, condition="snr_16")
    foreign = datasets.Dataset(other.profiles, other.truth, dataset.manifest)
    with pytest.raises(DatasetError, match="not among the profiles"):
        bound.dataset_bounds(foreign)

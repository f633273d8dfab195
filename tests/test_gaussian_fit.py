"""The offline Gaussian fit reference: exact on noiseless lines, at the Cramér–Rao bound at high SNR,
robust on empty, saturated and edge profiles."""
import numpy as np
import pytest

from workbench.data import signals
from workbench.data.signals import GeneratorConfig, NoiselessScene
from workbench.detectors.classical import make_detector
from workbench.detectors.gaussian_fit import FIT_WINDOW, NoiseModel, fit_centre, gaussian_fit_detector
from workbench.errors import ConfigError
from workbench.evaluation import bound

CONFIG = GeneratorConfig()
NOISE = NoiseModel.of(CONFIG)


def test_noiseless_lines_are_recovered_to_a_micro_pixel():
    rng = np.random.default_rng(0)
    n = 400
    centre, sigma, amplitude = rng.uniform(12, 243, n), rng.uniform(0.7, 3.0, n), rng.uniform(5, 200, n)
    x = np.arange(256)
    background = rng.uniform(2, 15, n)[:, None] + rng.uniform(-0.015, 0.015, n)[:, None] * (x - 128)
    profiles = background + signals.pixel_gaussian(centre, sigma, amplitude, 256)
    seed = centre + rng.uniform(-0.7, 0.7, n)
    fit = fit_centre(profiles, seed, NOISE)
    assert fit.kept.all()
    assert np.abs(fit.centre - centre).max() < 1e-6
    np.testing.assert_allclose(fit.sigma, sigma, rtol=1e-6)
    assert np.abs(seed - centre).max() > 0.5   # the seeds alone are far off


def _noisy_draws(mu: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """The generator's noise around one expectation: Poisson shot, Gaussian read, rounding, clipping."""
    k = NOISE.electrons_per_dn
    values = rng.poisson(mu * k, (draws, mu.size)) / k + rng.normal(0.0, NOISE.read_noise_dn, (draws, mu.size))
    return np.clip(np.rint(values), 0, NOISE.full_scale)


@pytest.mark.parametrize("sigma, amplitude", [(0.8, 150.0), (1.5, 200.0), (2.5, 120.0)])
def test_fit_rmse_reaches_the_free_parameter_bound_at_high_snr(sigma, amplitude):
    rng = np.random.default_rng(int(sigma * 10))
    draws, length, centre = 3000, 128, 60.3
    x = np.arange(length)
    line = signals.pixel_gaussian(np.array([centre]), np.array([sigma]), np.array([amplitude]), length)[0]
    mu = 10.0 + 0.02 * (x - 64) + line
    seeds = np.full(draws, centre) + rng.uniform(-0.4, 0.4, draws)
    fit = fit_centre(_noisy_draws(mu, draws, rng), seeds, NOISE, window=10)
    scene = NoiselessScene(mu[None], mu[None] - line, np.ones((1, length)), np.array([centre]), np.array([sigma]),
                  np.array([amplitude]), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool))
    free = bound.scene_bounds(scene, CONFIG, window=10).free[0]
    rmse = np.sqrt(np.mean((fit.centre - centre) ** 2))
    assert fit.kept.mean() > 0.999
    assert abs(rmse / np.sqrt(free) - 1.0) < 0.10
    assert np.sqrt(np.mean((np.rint(fit.centre) - centre) ** 2)) > 2 * np.sqrt(free)  # the test can fail


def test_default_window_costs_the_widest_line_under_5_percent_of_the_known_bound():
    n = 21
    centre, sigma, amplitude = 100 + np.linspace(-0.5, 0.5, n), np.full(n, 3.0), np.full(n, 40.0)
    line = signals.pixel_gaussian(centre, sigma, amplitude, 256)
    scene = NoiselessScene(10 + line, np.full_like(line, 10.0), np.ones_like(line), centre, sigma, amplitude, np.zeros(n),
                  np.zeros(n, bool), np.zeros(n, bool))
    known = bound.scene_bounds(scene, CONFIG).known.mean()
    cost = {w: np.sqrt(bound.scene_bounds(scene, CONFIG, window=w).free.mean() / known) for w in (10, FIT_WINDOW)}
    assert cost[FIT_WINDOW] <= 1.045 and cost[10] > 1.10


def test_empty_saturated_and_edge_profiles_do_not_raise():
    profiles, truth = signals.generate(signals.preset("mixed", edge_margin=0.0), 600, 3)
    saturated, _ = signals.generate(signals.preset("saturated"), 300, 4)
    profiles = np.concatenate([profiles, saturated, np.zeros((5, 256)), np.full((5, 256), 255)])
    seed = np.concatenate([np.nan_to_num(truth["centre"], nan=128.0), np.full(310, 128.0)])
    seed[:3] = [0.0, 255.0, np.nan]
    fit = fit_centre(profiles, seed, NOISE)
    assert np.all(np.isfinite(fit.centre)) and np.all((fit.centre >= -0.5) & (fit.centre <= 255.5))
    line = ~truth["empty"] & (truth["centre"] > 12) & (truth["centre"] < 243)
    good = np.abs(fit.centre[:600] - truth["centre"])[line] < 1
    assert good.mean() > 0.8
    with pytest.raises(ConfigError, match="fit window 5"):
        fit_centre(profiles, seed, NOISE, window=5)


def test_as_a_detector_the_seed_decides_found_and_the_fit_the_position():
    profiles, truth = signals.generate(signals.preset("snr_32"), 300, 5)
    seed = make_detector("br8", threshold=12.0)
    detector = gaussian_fit_detector(seed, CONFIG)
    found, pos = detector.detect(profiles)
    seed_found, seed_pos = seed.detect(profiles)
    assert np.array_equal(found, seed_found) and detector.name == "gauss_fit"
    line = found & ~truth["empty"]
    assert line.sum() > 200
    fit_rmse = np.sqrt(np.mean((pos - truth["centre"])[line] ** 2))
    seed_rmse = np.sqrt(np.mean((seed_pos - truth["centre"])[line] ** 2))
    assert fit_rmse < 0.95 * seed_rmse

"""The offline matched-filter detection reference: background-blind templates, 1% false alarms on
fresh empty profiles, fewer missed lines than BR8 at the same false-alarm rate."""
import numpy as np
from scipy.stats import binom

from workbench.data import signals
from workbench.data.datasets import Dataset
from workbench.detectors.classical import tune
from workbench.detectors.interface import calibrate
from workbench.detectors.matched_filter import SIGMAS, matched_filter_detector, matched_filter_scores, template


def test_templates_ignore_offset_and_slope_and_have_unit_norm():
    for sigma in SIGMAS:
        for phase in (0.0, 0.5):
            t = template(sigma, phase)
            x = np.arange(t.size) - t.size // 2
            assert abs(t.sum()) < 1e-12 and abs(t @ x) < 1e-10 and abs(np.linalg.norm(t) - 1) < 1e-12
            assert t.max() > 0.3


def test_noiseless_lines_are_found_near_their_centre():
    rng = np.random.default_rng(0)
    n = 200
    centre, sigma = rng.uniform(20, 236, n), rng.uniform(0.7, 3.0, n)
    x = np.arange(256)
    background = 10 + 0.03 * (x - 128)
    profiles = background + signals.pixel_gaussian(centre, sigma, np.full(n, 30.0), 256)
    score, pos = matched_filter_scores(profiles)
    assert np.abs(pos - centre).max() < 0.35 and score.min() > 10


def test_false_alarm_rate_on_fresh_empty_profiles_is_within_the_binomial_interval():
    empty = signals.preset("mixed", empty_fraction=1.0)
    calibration, _ = signals.generate(empty, 10_000, 21)
    fresh, _ = signals.generate(empty, 5_000, 22)
    detector = calibrate(matched_filter_detector(), calibration)
    false_alarms = int(detector.detect(fresh)[0].sum())
    low, high = binom.interval(0.99, fresh.shape[0], 0.01)
    assert low <= false_alarms <= high
    assert int(matched_filter_detector(detector.threshold - 3.0).detect(fresh)[0].sum()) > high  # a lower bar fails


def test_misses_fewer_lines_than_br8_at_the_same_false_alarm_rate():
    validation = Dataset(*signals.generate(signals.preset("mixed"), 8_000, 23), {})
    detector = calibrate(matched_filter_detector(), validation.profiles[validation.truth["empty"]])
    br8, _ = tune("br8", validation)
    profiles, truth = signals.generate(signals.preset("snr_8"), 2_000, 24)
    line = ~truth["empty"]
    missed = {d.name: 1 - d.detect(profiles)[0][line].mean() for d in (detector, br8)}
    assert missed["br8"] > 0.05 and missed["matched_filter"] < missed["br8"] / 3

"""Classical detectors against analytic cases, the shared detector interface and calibration."""
import math

import numpy as np
import pytest

from workbench.detectors import classical
from workbench.detectors.classical import METHODS, make_detector, tune
from workbench.detectors.interface import ThresholdedDetector, calibrate, threshold_for_false_alarm
from workbench.errors import ConfigError

L = 64


def gaussian_rows(centres, sigma=1.5, amplitude=200.0, background=0.0):
    x = np.arange(L)[None, :]
    c = np.asarray(centres, dtype=float)[:, None]
    return background + amplitude * np.exp(-0.5 * ((x - c) / sigma) ** 2)


CENTRES = 30 + np.array([-0.45, -0.3, -0.1, 0.0, 0.17, 0.33, 0.49])


def test_gaussian_three_point_exact_on_point_sampled_gaussian():
    for sigma in (0.8, 1.5, 2.5):
        _, pos = classical.three_point(gaussian_rows(CENTRES, sigma), classical.delta_gaussian, True)
        np.testing.assert_allclose(pos, CENTRES, atol=1e-9)


def test_parabolic_exact_on_parabola_and_biased_on_gaussian():
    x = np.arange(L)[None, :]
    rows = 1000.0 - 7.0 * (x - CENTRES[:, None]) ** 2
    _, pos = METHODS["parabolic"].scorer(rows)
    np.testing.assert_allclose(pos, CENTRES, atol=1e-9)
    _, gpos = METHODS["parabolic"].scorer(gaussian_rows(CENTRES, 1.0))
    assert np.abs(gpos - CENTRES).max() > 1e-3  # not exact for a Gaussian


def test_delta_formulas_on_hand_values():
    a, b, c = np.array([1.0]), np.array([3.0]), np.array([2.0])
    assert classical.delta_parabolic(a, b, c)[0] == pytest.approx(0.5 * (1 - 2) / (1 - 6 + 2))
    assert classical.delta_linear(a, b, c)[0] == pytest.approx((2 - 1) / (2 * (3 - 1)))
    assert classical.delta_linear(c, b, a)[0] == pytest.approx(-(2 - 1) / (2 * (3 - 1)))
    assert classical.delta_gaussian(a, b, c)[0] == pytest.approx(
        0.5 * (0 - math.log(2)) / (0 - 2 * math.log(3) + math.log(2)))
    flat = np.array([5.0])
    assert classical.delta_parabolic(flat, flat, flat)[0] == 0.0  # saturated plateau: no division by 0


ALL = [(name, w) for name, m in METHODS.items() for w in m.windows]


@pytest.mark.parametrize("name, window", ALL)
def test_every_detector_is_exact_on_integer_and_half_pixel_symmetric_lines(name, window):
    det = make_detector(name, window)
    centres = np.array([20.0, 31.0, 40.5, 27.5])
    found, pos = det.detect(gaussian_rows(centres, 2.0, background=10.0))
    assert found.all()
    if name == "argmax":  # integer output: the first of two equal pixels
        np.testing.assert_allclose(pos, np.floor(centres))
    elif name == "cog":  # a window centred on the argmax pixel is symmetric only for integer centres
        np.testing.assert_allclose(pos[:2], centres[:2], atol=1e-9)
        assert (pos[2:] > np.floor(centres[2:])).all() and (pos[2:] < centres[2:]).all()
    else:
        np.testing.assert_allclose(pos, centres, atol=1e-9)


@pytest.mark.parametrize("name, window", ALL)
def test_every_detector_is_mirror_symmetric_and_close(name, window):
    det = make_detector(name, window)
    centres = np.array([29.2, 30.35, 33.8])
    rows = gaussian_rows(centres, 1.8, background=5.0)
    _, pos = det.detect(rows)
    _, mirrored = det.detect(rows[:, ::-1].copy())
    if name == "argmax":
        np.testing.assert_allclose(pos, np.rint(centres))
    else:
        np.testing.assert_allclose(mirrored, (L - 1) - pos, atol=1e-9)
        small_centroid = name == "cog" and window < 3  # biased by design, see the next test
        assert np.abs(pos - centres).max() < (0.3 if small_centroid else 0.1)


def test_small_window_centroid_is_pulled_toward_the_pixel_centre():
    centres = 30 + np.array([-0.4, -0.25, -0.1, 0.1, 0.25, 0.4])
    _, pos = make_detector("cog", 1).detect(gaussian_rows(centres, 1.5))
    offset, estimate = centres - 30, pos - 30
    assert (np.sign(estimate) == np.sign(offset)).all()
    assert (np.abs(estimate) < np.abs(offset)).all()  # bias toward the integer pixel
    _, wide = make_detector("cog", 6).detect(gaussian_rows(centres, 1.5))
    assert np.abs(wide - centres).max() < np.abs(pos - centres).max()


@pytest.mark.parametrize("name, window", ALL)
def test_profile_edges_stay_in_range(name, window):
    rows = np.zeros((3, L))
    rows[0, 0], rows[1, L - 1], rows[2, :3] = 100.0, 100.0, [100.0, 60.0, 10.0]
    _, pos = make_detector(name, window).score(rows)
    assert np.all((pos >= 0) & (pos <= L - 1))
    assert pos[1] >= L - 2


def test_threshold_rule_and_calibration():
    scores = np.arange(1000.0)  # the 10 largest are 990..999
    t = threshold_for_false_alarm(scores, 0.01)
    assert (scores >= t).sum() == 10 and (scores >= np.nextafter(t, -np.inf)).sum() == 11
    assert threshold_for_false_alarm(scores, 0.01, integer=True) == 990.0
    ties = np.array([5.0] * 50 + [1.0] * 50)
    assert (ties >= threshold_for_false_alarm(ties, 0.1)).sum() == 0  # never exceeds the rate
    det = ThresholdedDetector("fixed", lambda x: (x.max(axis=1), np.zeros(len(x))))
    rng = np.random.default_rng(0)
    empty = rng.normal(size=(2000, 16))
    cal = calibrate(det, empty, 0.05)
    assert cal.detect(empty)[0].mean() <= 0.05
    assert cal.detect(empty)[0].mean() > 0.04
    with pytest.raises(ConfigError, match="rate 1.5"):
        threshold_for_false_alarm(scores, 1.5)


def test_tune_picks_window_on_validation_data_and_hits_false_alarm_rate():
    from workbench.data.datasets import Dataset
    from workbench.data.signals import generate, preset
    profiles, truth = generate(preset("mixed", length=128, empty_fraction=0.5), 1200, 1)
    det, record = tune("cog", Dataset(profiles, truth, {}))
    losses = record["validation_loss"]
    assert record["window"] == int(min(losses, key=losses.get))
    assert det.detect(profiles[truth["empty"]])[0].mean() <= 0.01
    assert det.name == "cog" and det.bits is None


def test_unknown_method_and_window():
    with pytest.raises(ConfigError, match="unknown classical method 'nope'"):
        make_detector("nope")
    with pytest.raises(ConfigError, match="window 5 invalid"):
        make_detector("cog", 5)
    with pytest.raises(ConfigError, match="no window"):
        make_detector("argmax", 3)

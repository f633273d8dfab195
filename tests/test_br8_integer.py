"""The streaming integer BR8 golden model (`workbench.qnn.br8_integer`)."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.data import signals
from workbench.data.datasets import Dataset
from workbench.detectors import classical
from workbench.errors import ConfigError
from workbench.qnn.br8_integer import BRInteger, SCORES, detector, run_br_integer, tune
from workbench.qnn.refinement import Refinement, box_taps


def loop_model(config: BRInteger, profile: list[int]) -> tuple[int, bool, int]:
    """`(score, found, pos)` of one profile, the module docstring read literally with Python integers."""
    taps, f, n = config.refinement.taps, config.frac_bits, len(profile)
    h = (len(taps) - 1) // 2
    d = [sum(t * profile[min(max(i + k - h, 0), n - 1)] for k, t in enumerate(taps)) for i in range(n)]
    p = profile.index(max(profile))
    crossings = [i for i in range(p - h - 1, p + h + 1) if 0 <= i and i + 1 < n and d[i] >= 0 > d[i + 1]]
    pos = p << f
    slope = 0
    if crossings:
        i = min(crossings, key=lambda j: abs(2 * (j - p) + 1))
        a, b = d[i], d[i + 1]
        slope = a - b
        pos = (i << f) + (2 * a * (1 << f) + slope) // (2 * slope)
    score = {"slope": slope, "peak": profile[p], "peak_min": profile[p] - min(profile)}[config.score]
    found = score >= config.threshold
    return score, found, pos if found else 0


@pytest.mark.parametrize("score", SCORES)
def test_golden_equals_the_literal_rule(score: str) -> None:
    config = BRInteger(score=score, threshold=30)
    profiles, _ = signals.generate(signals.preset("mixed", length=64), 60, seed=3)
    profiles[0, :] = 7  # flat: no crossing
    profiles[1, :] = 0
    profiles[1, 0] = 200  # peak at the first pixel
    profiles[2, :] = 0
    profiles[2, -1] = 200  # and at the last
    result = run_br_integer(config, profiles)
    expected = [loop_model(config, [int(v) for v in row]) for row in profiles]
    assert [int(s) for s in result.score] == [e[0] for e in expected]
    assert result.found.tolist() == [e[1] for e in expected]
    assert [int(v) for v in result.pos] == [e[2] for e in expected]
    assert 0 < result.found.sum() < len(profiles)  # both outcomes are exercised
    # negative control: another threshold changes the verdicts
    other = run_br_integer(BRInteger(score=score, threshold=int(np.median(result.score)) + 1), profiles)
    assert not np.array_equal(other.found, result.found)


def test_positions_round_the_float_br8() -> None:
    """On the lines both find, the integer position is the float BR8's rounded to 2^-F px."""
    profiles, _ = signals.generate(signals.preset("snr_16", length=64), 200, seed=5)
    config = BRInteger()
    result = run_br_integer(config, profiles)
    _, float_pos = classical.blais_rioux(profiles, 8)
    error = np.abs(result.pos / (1 << config.frac_bits) - float_pos)
    assert result.found.sum() == 200  # threshold 0
    assert error.max() <= 0.5 / (1 << config.frac_bits) + 1e-12
    assert error.max() > 0  # the rounding is visible: the comparison is not vacuous


def test_tune_sets_an_integer_threshold_for_one_percent_false_alarms() -> None:
    config = signals.preset("mixed", length=64)
    profiles, truth = signals.generate(config, 2000, seed=11)
    tuned = tune(BRInteger(), Dataset(profiles, truth, config))
    empty = truth["empty"]
    found, _ = detector(tuned).detect(profiles[empty])
    assert isinstance(tuned.threshold, int) and tuned.threshold > 0
    assert found.mean() <= 0.01
    found_lower, _ = detector(BRInteger(threshold=tuned.threshold - 1)).detect(profiles[empty])
    assert found_lower.mean() > 0.01  # the smallest threshold that meets the rate


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="score 'median' invalid"):
        BRInteger(score="median")
    with pytest.raises(ConfigError, match="threshold 2.5 invalid"):
        BRInteger(threshold=2.5)
    with pytest.raises(ConfigError, match="out of range"):
        run_br_integer(BRInteger(refinement=Refinement("br4", box_taps(4))), np.full((1, 16), 300))


def test_spec_names_the_integer_detector() -> None:
    from workbench.evaluation.detector_spec import build_detector

    profiles, _ = signals.generate(signals.preset("mixed", length=64), 50, seed=2)
    built = build_detector("br8_int", threshold=16)
    found, pos = built.detector.detect(profiles)
    result = run_br_integer(BRInteger(threshold=16), profiles)
    assert built.input_bits == 8
    assert found.tolist() == result.found.tolist() and 0 < found.sum() < 50
    assert np.array_equal(pos, result.pos / 256.0)
    with pytest.raises(ConfigError, match="has no window"):
        build_detector("br8_int", window=3)

"""The common detector interface and the false-alarm calibration every method shares.

A detector is anything with `name`, `bits` (None for float and classical methods) and
`detect(profiles) -> (found, pos)`: bool and float arrays of length N, `pos` in pixels with pixel
`i`'s centre at `i`, 0 where nothing is found. Most detectors compute a per-profile score and report
a line when the score reaches a threshold: `ThresholdedDetector` wraps a scorer
`profiles -> (score, pos)` and `calibrate` sets its threshold for a target false-alarm rate on empty
validation profiles, the same rule for classical, float, quantized and TFLite detectors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Protocol

import numpy as np

from workbench.errors import ConfigError

FALSE_ALARM_RATE = 0.01
Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Detector(Protocol):
    """What the evaluation harness runs."""

    name: str
    bits: int | None

    def detect(self, profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, pos) per profile of an (N, L) array."""
        ...


@dataclass(frozen=True)
class ThresholdedDetector:
    """A scorer plus a threshold: found = score >= threshold."""

    name: str
    scorer: Scorer
    threshold: float = -math.inf
    bits: int | None = None
    params: tuple[tuple[str, object], ...] = ()  # chosen settings, for reports

    def score(self, profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw (score, pos) for every profile, before thresholding."""
        score, pos = self.scorer(np.asarray(profiles))
        return np.asarray(score, dtype=np.float64), np.asarray(pos, dtype=np.float64)

    def detect(self, profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, pos); pos is 0 where nothing is found."""
        score, pos = self.score(profiles)
        found = score >= self.threshold
        return found, np.where(found, pos, 0.0)


def threshold_for_false_alarm(scores: np.ndarray, rate: float = FALSE_ALARM_RATE,
                              integer: bool = False) -> float:
    """Smallest threshold t with at most floor(rate * n) of the empty-profile `scores` >= t.

    `integer=True` returns an integer threshold (for integer scores, as the hardware head compares).
    """
    scores = np.sort(np.asarray(scores, dtype=np.float64).ravel())[::-1]
    if scores.size == 0:
        raise ConfigError("no empty profiles to calibrate a threshold on; allowed: at least one")
    if not 0 <= rate < 1:
        raise ConfigError(f"false-alarm rate {rate!r} out of range; allowed 0 <= rate < 1")
    allowed = int(math.floor(rate * scores.size))
    if allowed >= scores.size:
        return -math.inf
    bound = scores[allowed]  # the (allowed+1)-th largest score must not reach the threshold
    return float(math.floor(bound) + 1) if integer else float(np.nextafter(bound, math.inf))


def calibrate(detector: ThresholdedDetector, empty_profiles: np.ndarray, rate: float = FALSE_ALARM_RATE,
              integer: bool = False) -> ThresholdedDetector:
    """A copy of `detector` whose threshold gives false-alarm rate <= `rate` on `empty_profiles`."""
    score, _ = detector.score(empty_profiles)
    return replace(detector, threshold=threshold_for_false_alarm(score, rate, integer))

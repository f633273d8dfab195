"""Offline detection reference: a matched-filter (generalized likelihood ratio) detector.

For white Gaussian noise, a line of known shape and unknown amplitude on an unknown local linear
background is best detected by the generalized likelihood ratio: the largest, over positions and line
widths, of the data's projection on the line template made orthogonal to a constant and a slope over
the template's support, divided by the template's norm (an amplitude estimate in noise-std units).
Templates are the generator's pixel-integrated Gaussians for `SIGMAS` (its default width range) at
sub-pixel phases 0 and 1/2. The score is that largest statistic; the threshold is set like every
method's, for 1% false alarms on empty validation profiles (`interface.calibrate`). The position is the
best template's centre, refined by a parabola through its three neighbouring correlations. Shot noise
makes the noise non-white, so this is the optimum of the read-noise-limited regime, where detection
is hard; it is not an FPGA method.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import correlate1d

from workbench.data.signals import pixel_gaussian
from workbench.detectors.interface import ThresholdedDetector

SIGMAS = (0.7, 1.0, 1.4, 2.0, 3.0)
PHASES = (0.0, 0.5)
NAME = "matched_filter"


def template(sigma: float, phase: float) -> np.ndarray:
    """Unit-norm line template over +-(3 sigma + 2) px, orthogonal to a constant and a linear slope."""
    half = int(math.ceil(3 * sigma)) + 2
    x = np.arange(-half, half + 1, dtype=np.float64)
    line = pixel_gaussian(np.array([half + phase]), np.array([sigma]), np.array([1.0]), x.size)[0]
    basis = np.stack([np.ones_like(x), x], axis=1)
    residual = line - basis @ np.linalg.lstsq(basis, line, rcond=None)[0]
    return residual / np.linalg.norm(residual)


def _refine(values: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Parabolic vertex offset through values[p-1], values[p], values[p+1] (0 at the ends or when flat)."""
    rows = np.arange(len(p))
    inner = (p > 0) & (p < values.shape[1] - 1)
    left = values[rows, np.clip(p - 1, 0, None)]
    mid = values[rows, p]
    right = values[rows, np.clip(p + 1, None, values.shape[1] - 1)]
    denominator = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(inner & (denominator < 0), 0.5 * (left - right) / denominator, 0.0)
    return np.clip(delta, -0.5, 0.5)


def matched_filter_scores(profiles: np.ndarray, sigmas: tuple[float, ...] = SIGMAS) -> tuple[np.ndarray, np.ndarray]:
    """(score, pos) per profile: the largest template projection and the position of its template."""
    x = np.asarray(profiles, dtype=np.float64)
    best_score = np.full(len(x), -np.inf)
    best_pos = np.zeros(len(x))
    rows = np.arange(len(x))
    for sigma in sigmas:
        for phase in PHASES:
            response = correlate1d(x, template(sigma, phase), axis=1, mode="nearest")
            p = np.argmax(response, axis=1)
            score = response[rows, p]
            better = score > best_score
            best_score = np.where(better, score, best_score)
            best_pos = np.where(better, p + phase + _refine(response, p), best_pos)
    return best_score, best_pos


def matched_filter_detector(threshold: float = -math.inf) -> ThresholdedDetector:
    """The matched-filter detector (calibrate its threshold with `interface.calibrate`)."""
    return ThresholdedDetector(NAME, matched_filter_scores, threshold, params=(("sigmas", SIGMAS), ("offline", True)))

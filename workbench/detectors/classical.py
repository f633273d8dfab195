"""Classical laser-line peak detectors (design.md section 6), vectorised over a batch of profiles.

Every method is a scorer `profiles -> (score, pos)`: `pos` the sub-pixel estimate (pixel `i`'s
centre at `i`), `score` the evidence for a line (the peak's height above its local background, or the
prominence for `find_peaks`), so that one threshold rule sets every method's false-alarm rate
(`workbench.detectors.interface.calibrate`). `METHODS` lists them with their tunable window candidates;
`tune` picks a method's window and threshold on validation data only. Formulas and sources:
`notes/classical-detectors.md` of the shared design folder.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from itertools import repeat
from typing import Callable

import numpy as np
from scipy.ndimage import correlate1d
from scipy.signal import find_peaks, find_peaks_cwt

from workbench.data.datasets import Dataset
from workbench.detectors.interface import FALSE_ALARM_RATE, ThresholdedDetector, calibrate
from workbench.errors import ConfigError

ScoreAndPos = tuple[np.ndarray, np.ndarray]
LOG_FLOOR = 0.5  # DN: values at or below the background are clamped here before taking logs
BACKGROUND_RING = (10, 24)  # px: the local background is the median of pixels this far from the peak


# --- three-point sub-pixel offsets (a, b, c = left, peak, right values) -----------------------------

def delta_parabolic(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through (-1, a), (0, b), (1, c); 0 where it is flat."""
    den = a - 2.0 * b + c
    return np.divide(0.5 * (a - c), den, out=np.zeros_like(den), where=den != 0)


def delta_gaussian(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Parabolic vertex of the logarithms: exact for a point-sampled Gaussian; values must be > 0."""
    return delta_parabolic(np.log(a), np.log(b), np.log(c))


def delta_linear(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Fisher & Naidu linear interpolation: two lines of opposite slope meeting at the peak."""
    den = np.where(c > a, 2.0 * (b - a), 2.0 * (b - c))
    return np.divide(c - a, den, out=np.zeros_like(den), where=den != 0)


# --- shared helpers ---------------------------------------------------------------------------------

def _float(profiles: np.ndarray) -> np.ndarray:
    x = np.asarray(profiles, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 3:
        raise ConfigError(f"profiles of shape {x.shape} invalid; allowed a 2-D array (N, L) with L >= 3")
    return x


def local_background(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Median of the pixels at distance `BACKGROUND_RING` from index p (those inside the profile)."""
    inner, outer = BACKGROUND_RING
    ring = np.arange(inner, outer + 1)
    idx = p[:, None] + np.concatenate([-ring, ring])[None, :]
    inside = (idx >= 0) & (idx < x.shape[1])
    values = np.take_along_axis(x, np.clip(idx, 0, x.shape[1] - 1), axis=1)
    return np.nanmedian(np.where(inside, values, np.nan), axis=1)


def _peak(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(argmax index, local background, score = peak height above the local background)."""
    p = np.argmax(x, axis=1)
    background = local_background(x, p)
    return p, background, x[np.arange(x.shape[0]), p] - background


def _refine3(x: np.ndarray, p: np.ndarray, delta: Callable[..., np.ndarray]) -> np.ndarray:
    """p + delta(a, b, c) around index p; p itself at the profile's first and last pixel."""
    rows = np.arange(x.shape[0])
    inner = (p > 0) & (p < x.shape[1] - 1)
    q = np.clip(p, 1, x.shape[1] - 2)
    d = delta(x[rows, q - 1], x[rows, q], x[rows, q + 1])
    return p + np.where(inner, d, 0.0)


def _log_ready(x: np.ndarray, background: np.ndarray) -> np.ndarray:
    return np.maximum(x - background[:, None], LOG_FLOOR)


# --- scorers ------------------------------------------------------------------------------------------

def argmax(profiles: np.ndarray) -> ScoreAndPos:
    """Integer position of the brightest pixel (first one on ties)."""
    p, _, score = _peak(_float(profiles))
    return score, p.astype(np.float64)


def three_point(profiles: np.ndarray, delta: Callable[..., np.ndarray], subtract_background: bool) -> ScoreAndPos:
    """Argmax refined by a three-point formula (optionally on background-subtracted values)."""
    x = _float(profiles)
    p, background, score = _peak(x)
    values = _log_ready(x, background) if subtract_background else x
    return score, _refine3(values, p, delta)


def centroid(profiles: np.ndarray, window: int) -> ScoreAndPos:
    """Centre of gravity of max(I - background, 0) over [p - window, p + window] (clipped at the ends)."""
    x = _float(profiles)
    p, background, score = _peak(x)
    offsets = np.arange(-window, window + 1)
    idx = p[:, None] + offsets[None, :]
    inside = (idx >= 0) & (idx < x.shape[1])
    weights = np.where(inside, np.maximum(
        np.take_along_axis(x, np.clip(idx, 0, x.shape[1] - 1), axis=1) - background[:, None], 0.0), 0.0)
    total = weights.sum(axis=1)
    delta = np.divide(weights @ offsets, total, out=np.zeros_like(total), where=total > 0)
    return score, p + delta


def nearest_crossing(deriv: np.ndarray, p: np.ndarray, radius: int) -> tuple[np.ndarray, ...]:
    """Per row, the zero crossing d[i] >= 0 > d[i+1] nearest to index p (i - p in [-radius, radius-1], the
    left one on equal distance): `(i, found, d[i], d[i+1])`, `found` False where none is in reach."""
    n, length = deriv.shape
    offsets = np.arange(-radius, radius)
    i = p[:, None] + offsets[None, :]
    valid = (i >= 0) & (i + 1 < length)
    ic = np.clip(i, 0, length - 2)
    d0 = np.take_along_axis(deriv, ic, axis=1)
    d1 = np.take_along_axis(deriv, ic + 1, axis=1)
    crossing = valid & (d0 >= 0) & (d1 < 0)
    best = np.argmin(np.where(crossing, np.abs(2 * offsets + 1)[None, :], np.iinfo(np.int64).max), axis=1)
    rows = np.arange(n)
    return ic[rows, best], crossing[rows, best], d0[rows, best], d1[rows, best]


def zero_crossing(deriv: np.ndarray, p: np.ndarray, radius: int) -> np.ndarray:
    """Sub-pixel zero crossing d[i] >= 0 > d[i+1] nearest to index p (within radius); p when none."""
    i, found, a, b = nearest_crossing(deriv, p, radius)
    pos = i + a / np.where(found, a - b, 1.0)
    return np.where(found, pos, p.astype(np.float64))


def blais_rioux_kernel(order: int) -> np.ndarray:
    """Correlation weights of the BR-`order` derivative d[i] = sum_{k=1}^{order/2} (I[i+k] - I[i-k])."""
    half = order // 2
    return np.concatenate([-np.ones(half), [0.0], np.ones(half)])


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised Gaussian FIR of standard deviation `sigma`, truncated at 3 sigma."""
    half = max(1, int(math.ceil(3.0 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return taps / taps.sum()


def derivative_zero_crossing(profiles: np.ndarray, derivative: np.ndarray,
                             smoothing: np.ndarray | None = None) -> ScoreAndPos:
    """Optional smoothing FIR, then a derivative FIR, then the zero crossing near the smoothed argmax."""
    x = _float(profiles)
    smooth = x if smoothing is None else correlate1d(x, smoothing, axis=1, mode="nearest")
    deriv = correlate1d(smooth, derivative, axis=1, mode="nearest")
    p, _, score = _peak(smooth)
    return score, zero_crossing(deriv, p, radius=len(derivative) // 2 + 1)


def blais_rioux(profiles: np.ndarray, order: int) -> ScoreAndPos:
    """Blais & Rioux BR-`order` detector: FIR derivative zero crossing with linear interpolation."""
    return derivative_zero_crossing(profiles, blais_rioux_kernel(order))


def forest(profiles: np.ndarray, window: float) -> ScoreAndPos:
    """Forest et al.: Gaussian smoothing FIR (sigma = window px), central difference, zero crossing."""
    return derivative_zero_crossing(profiles, np.array([-0.5, 0.0, 0.5]), gaussian_kernel(window))


def most_prominent(profiles: np.ndarray, window: int) -> ScoreAndPos:
    """scipy `find_peaks`: the most prominent local maximum (prominence measured within `window` px,
    scipy's `wlen`; it is the score), Gaussian-refined."""
    x = _float(profiles)
    p = np.argmax(x, axis=1)
    score = np.zeros(x.shape[0])
    for row in range(x.shape[0]):
        peaks, props = find_peaks(x[row], prominence=0.0, wlen=window)
        if peaks.size:
            best = int(np.argmax(props["prominences"]))
            p[row], score[row] = peaks[best], props["prominences"][best]
    return score, _refine3(_log_ready(x, local_background(x, p)), p, delta_gaussian)


def _snap_to_local_max(x: np.ndarray, p: np.ndarray, radius: int) -> np.ndarray:
    """The brightest pixel within `radius` of each index p (first one on ties)."""
    idx = np.clip(p[:, None] + np.arange(-radius, radius + 1)[None, :], 0, x.shape[1] - 1)
    return idx[np.arange(x.shape[0]), np.argmax(np.take_along_axis(x, idx, axis=1), axis=1)]


def wavelet_peaks(profiles: np.ndarray, window: int) -> ScoreAndPos:
    """scipy `find_peaks_cwt` (Ricker widths 1..window): the brightest returned peak, moved to the
    brightest pixel within 2 px (the ridge lines are coarse), Gaussian-refined.

    Score: that peak's height above its local background (0 when the wavelet search finds nothing).
    """
    x = _float(profiles)
    p = np.argmax(x, axis=1)
    found = np.zeros(x.shape[0], dtype=bool)
    widths = np.arange(1, window + 1)
    with np.errstate(divide="ignore", invalid="ignore"):  # scipy divides by a zero noise on flat rows
        for row in range(x.shape[0]):
            peaks = np.asarray(find_peaks_cwt(x[row], widths), dtype=int)
            if peaks.size:
                p[row], found[row] = peaks[np.argmax(x[row, peaks])], True
    p = _snap_to_local_max(x, p, 2)
    background = local_background(x, p)
    score = np.where(found, x[np.arange(x.shape[0]), p] - background, 0.0)
    return score, _refine3(_log_ready(x, background), p, delta_gaussian)


# --- registry and tuning ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    """A classical method: its scorer, the candidate windows tuned on validation data, a description."""

    name: str
    scorer: Callable[..., ScoreAndPos]
    windows: tuple = (None,)
    description: str = ""


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("argmax", argmax, description="brightest pixel, integer position"),
    Method("cog", centroid, (1, 2, 3, 4, 6), "centre of gravity above the local background, window +-w px"),
    Method("parabolic", partial(three_point, delta=delta_parabolic, subtract_background=False),
           description="3-point parabola vertex"),
    Method("gaussian", partial(three_point, delta=delta_gaussian, subtract_background=True),
           description="3-point log-parabola (Gaussian) on background-subtracted values"),
    Method("linear", partial(three_point, delta=delta_linear, subtract_background=False),
           description="linear interpolation (Fisher & Naidu)"),
    Method("br4", partial(blais_rioux, order=4), description="Blais-Rioux 4th-order derivative zero crossing"),
    Method("br8", partial(blais_rioux, order=8), description="Blais-Rioux 8th-order derivative zero crossing"),
    Method("forest", forest, (0.5, 1.0, 1.5, 2.0, 3.0),
           description="Gaussian FIR (sigma w px) + derivative zero crossing (Forest et al.)"),
    Method("find_peaks", most_prominent, (11, 21, 41),
           "scipy find_peaks, most prominent within w px, Gaussian-refined"),
    Method("find_peaks_cwt", wavelet_peaks, (4, 8), "scipy find_peaks_cwt (widths 1..w), Gaussian-refined"),
)}


def method(name: str) -> Method:
    """The registered method called `name`; ConfigError listing the allowed names otherwise."""
    if name not in METHODS:
        raise ConfigError(f"unknown classical method {name!r}; allowed {sorted(METHODS)}")
    return METHODS[name]


def make_detector(name: str, window: float | None = None, threshold: float = -math.inf) -> ThresholdedDetector:
    """A classical detector by name (see `METHODS`), with a window when the method has one."""
    method_ = method(name)
    if method_.windows == (None,):
        if window is not None:
            raise ConfigError(f"method {name!r} has no window (got {window!r})")
        return ThresholdedDetector(name, method_.scorer, threshold)
    if window is None:
        window = method_.windows[0]
    if window not in method_.windows:
        raise ConfigError(f"window {window!r} invalid for {name!r}; allowed {list(method_.windows)}")
    window = method_.windows[method_.windows.index(window)]  # the candidate's own type: 3.0 becomes 3
    return ThresholdedDetector(name, partial(method_.scorer, window=window), threshold, params=(("window", window),))


def validation_loss(found: np.ndarray, pos: np.ndarray, centre: np.ndarray) -> float:
    """Mean of min(error^2, 1) over line profiles, a miss counting 1: the window-selection objective."""
    err2 = np.where(found, np.minimum((pos - centre) ** 2, 1.0), 1.0)
    return float(err2.mean())


def try_window(name: str, window: float | None, validation: Dataset,
               rate: float = FALSE_ALARM_RATE) -> tuple[float, ThresholdedDetector]:
    """(validation loss, calibrated detector) of one method with one window on a VALIDATION set."""
    empty = np.asarray(validation.truth["empty"], dtype=bool)
    if empty.all() or not empty.any():
        raise ConfigError("tuning needs both empty and line profiles in the validation set")
    profiles = validation.profiles
    detector = calibrate(make_detector(name, window), profiles[empty], rate)
    found, pos = detector.detect(profiles[~empty])
    return validation_loss(found, pos, validation.truth["centre"][~empty]), detector


def _choose(trials: list[tuple[float, ThresholdedDetector]]) -> tuple[ThresholdedDetector, dict]:
    """The lowest-loss trial (first on ties) and a record of the choice."""
    best = min(range(len(trials)), key=lambda i: trials[i][0])
    detector = trials[best][1]
    losses = {str(dict(d.params).get("window")): loss for loss, d in trials}
    return detector, {"threshold": detector.threshold, "window": dict(detector.params).get("window"),
                      "validation_loss": losses}


def tune(name: str, validation: Dataset, rate: float = FALSE_ALARM_RATE) -> tuple[ThresholdedDetector, dict]:
    """Choose a method's window (lowest `validation_loss`) and threshold (`rate` false alarms on the
    empty profiles) on a VALIDATION set; returns the detector and a record of the choice."""
    return _choose([try_window(name, w, validation, rate) for w in method(name).windows])


def tune_all(names: list[str], validation: Dataset, rate: float = FALSE_ALARM_RATE,
             workers: int = 1) -> list[tuple[ThresholdedDetector, dict]]:
    """`tune` every named method, trying the (method, window) pairs in `workers` processes when > 1."""
    pairs = [(name, w) for name in names for w in method(name).windows]
    args = ([n for n, _ in pairs], [w for _, w in pairs], repeat(validation), repeat(rate))
    if workers <= 1:
        trials = list(map(try_window, *args))
    else:
        with ProcessPoolExecutor(workers) as pool:
            trials = list(pool.map(try_window, *args))
    return [_choose([t for (n, _), t in zip(pairs, trials) if n == name]) for name in names]

"""The streaming integer Blais–Rioux detector: the golden model of the classical method in hardware.

The float BR8 (`workbench.detectors.classical.blais_rioux`) subtracts the median of a ring of pixels
10–24 px from the peak, which needs the whole profile buffered and a sorter. This variant keeps only
what one pass over the stream can afford. On unsigned `input_bits`-bit samples `x[0 .. L-1]`:

- **peak** `p`: the first index of the largest `x` (a running arg-max, strictly greater replaces);
- **derivative** `d[i] = sum_t taps[t] * x[i + t - h]` with the edge samples replicated
  (`refinement.derivative`; BR8: taps `-1 x 4, 0, +1 x 4`, `h = 4`);
- **zero crossing** `d[i] >= 0 > d[i+1]` nearest to `p` among `i - p` in `[-R, R - 1]`
  (`R = h + 1`; the left one on equal distance; `0 <= i <= L - 2`);
- **position** `pos = i * 2^F + rdiv(d[i], d[i] - d[i+1], F)` in units of `2^-F` px (the
  contract's rounding division, halves away from zero), `p * 2^F` when no crossing is in reach,
  0 when not found (`refinement.refine`, the hybrid detector's locator, so the hardware that
  computes this also computes the hybrid's refinement with other taps);
- **score** (`SCORES`), an integer, and `found = score >= threshold` (an integer threshold, tuned
  for 1 % false alarms on the empty VALIDATION profiles, `tune`):
  - `"slope"` (the default, the one the hardware computes): `d[i] - d[i+1]`, the derivative's drop
    across that zero crossing (the divisor, so free), 0 when no crossing is in reach. It needs no
    background: a constant offset or a slow ramp cancels in the derivative;
  - `"peak"`: `x[p]`, no background;
  - `"peak_min"`: `x[p] - min(x)`, the profile's running minimum as background.

Everything is an integer; `run_br_integer` is the model the hardware (`workbench.hw.br_top`) is
checked against, value for value.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workbench.data.datasets import Dataset
from workbench.detectors.classical import nearest_crossing
from workbench.detectors.interface import FALSE_ALARM_RATE, ThresholdedDetector, calibrate
from workbench.errors import ConfigError
from workbench.qnn.refinement import Refinement, box_taps, derivative, refine

SCORES = ("slope", "peak", "peak_min")
DEFAULT_SCORE = "slope"
DEFAULT_FRAC_BITS = 8  # the networks' pos units (their heads' F), so results compare pixel for pixel
NAME = "br8_int"


@dataclass(frozen=True)
class BRInteger:
    """The integer detector's settings: derivative taps and F (`refinement`), score, threshold."""

    refinement: Refinement = Refinement("br8", box_taps(8), DEFAULT_FRAC_BITS)
    score: str = DEFAULT_SCORE
    threshold: int = 0
    input_bits: int = 8

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise ConfigError(f"score {self.score!r} invalid; allowed {list(SCORES)}")
        if not isinstance(self.threshold, (int, np.integer)):
            raise ConfigError(f"threshold {self.threshold!r} invalid; allowed an integer (score units)")
        if not isinstance(self.input_bits, int) or not 1 <= self.input_bits <= 16:
            raise ConfigError(f"input_bits {self.input_bits!r} invalid; allowed an integer in 1..16")

    @property
    def frac_bits(self) -> int:
        """F: positions are in units of 2^-F px."""
        return self.refinement.frac_bits


@dataclass(frozen=True)
class BRResult:
    """Per profile: the derivative `(N, L)`, score, peak pixel, found and pos (units of 2^-F px)."""

    derivative: np.ndarray
    score: np.ndarray
    peak: np.ndarray
    found: np.ndarray
    pos: np.ndarray


def run_br_integer(config: BRInteger, profiles: np.ndarray) -> BRResult:
    """The golden model on `(N, L)` integer profiles (module docstring)."""
    d = derivative(config.refinement, profiles, config.input_bits)  # also checks the samples' range
    x = np.asarray(profiles).astype(np.int64)
    peak = np.argmax(x, axis=1)
    top = x[np.arange(x.shape[0]), peak]
    if config.score == "slope":
        _, crossing, a, b = nearest_crossing(d, peak, config.refinement.radius)
        score = np.where(crossing, a - b, 0)
    else:
        score = top - x.min(axis=1) if config.score == "peak_min" else top
    found = score >= config.threshold
    position = refine(config.refinement, x, peak, config.input_bits)
    return BRResult(d, score, peak, found, np.where(found, position, 0).astype(np.int64))


def detector(config: BRInteger, name: str = NAME) -> ThresholdedDetector:
    """The model as a `ThresholdedDetector` (positions in px), its threshold `config.threshold`."""
    scale = float(1 << config.frac_bits)

    def scorer(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = run_br_integer(replace(config, threshold=0), profiles)
        return result.score, result.pos / scale

    params = (("score", config.score), ("taps", config.refinement.name),
              ("frac_bits", config.frac_bits))
    return ThresholdedDetector(name, scorer, float(config.threshold), params=params)


def tune(config: BRInteger, validation: Dataset, rate: float = FALSE_ALARM_RATE) -> BRInteger:
    """`config` with the integer threshold giving at most `rate` false alarms on the empty VALIDATION profiles."""
    empty = np.asarray(validation.truth["empty"], dtype=bool)
    if not empty.any():
        raise ConfigError("tuning needs empty profiles in the validation set")
    calibrated = calibrate(detector(config), validation.profiles[empty], rate, integer=True)
    return replace(config, threshold=int(calibrated.threshold))

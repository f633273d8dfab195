"""Fair comparisons of a method with a reference method (BR8 by default) on the same profiles.

Each method's own RMSE counts only the lines it finds within 1 px, so two methods are measured on
different lines. Two comparisons are fair to methods that detect different lines:

- **paired RMSE ratio**: RMSE of the method over RMSE of the reference on the lines *both* find within
  1 px (`GROSS_PX`), with a 95% paired-bootstrap interval (the same resampled lines for both);
- **total-error ratio**: the method's total error `mean(min(err^2, 1))` (a missed line counts 1) over
  the reference's, over every line profile, with the same paired bootstrap.

One test set comes from one seed, so for one trained network the bootstrap resamples profiles
only. Over several training seeds of a network (the study mode of run_all) the same comparisons pool
the seeds: each seed's mean squared error (and total error) is averaged over the seeds, for the method
and the reference on that seed's common lines, and the interval comes from a two-stage bootstrap, over
seeds, then profiles (`workbench.evaluation.metrics.seed_bootstrap_means`), so it widens when seeds
disagree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from workbench.evaluation.metrics import (BOOTSTRAP_DRAWS, CI_LEVEL, GROSS_PX, capped_squared_errors, good_mask,
                                          percentile_interval, seed_bootstrap_means)

NAN = float("nan")
DEFAULT_REFERENCE = "br8"
"""The classical method every other is paired with: the best dedicated detector of the quick run."""


@dataclass(frozen=True)
class Paired:
    """A method against a reference on the same profiles; NaN where nothing can be compared."""

    reference: str
    paired_n: int | float  # lines both find; the mean over seeds when pooled
    rmse_ratio: float
    rmse_ratio_ci_low: float
    rmse_ratio_ci_high: float
    total_error_ratio: float
    total_error_ratio_ci_low: float
    total_error_ratio_ci_high: float

    def as_dict(self) -> dict[str, float | int | str]:
        """Field name to value."""
        return asdict(self)


def ratio_of_means(a: np.ndarray, b: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
                   level: float = CI_LEVEL) -> tuple[float, float, float]:
    """mean(a) / mean(b) and its paired percentile-bootstrap interval (NaN when empty or mean(b) is 0)."""
    return ratio_of_means_over_seeds([a], [b], draws, seed, level)


def ratio_of_means_over_seeds(a: list[np.ndarray], b: list[np.ndarray], draws: int = BOOTSTRAP_DRAWS,
                              seed: int = 0, level: float = CI_LEVEL) -> tuple[float, float, float]:
    """(mean over seeds of mean(a_s)) / (mean over seeds of mean(b_s)), a_s and b_s paired profile by
    profile, and its interval from the two-stage bootstrap over seeds, then profiles; seeds with empty
    arrays are left out; NaN when none is left or the denominator is 0."""
    pairs = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) for x, y in zip(a, b)]
    pairs = [pair for pair in pairs if pair[0].size]
    if not pairs:
        return NAN, NAN, NAN
    numerator, denominator = (float(np.mean([pair[k].mean() for pair in pairs])) for k in (0, 1))
    if denominator == 0:
        return NAN, NAN, NAN
    means = seed_bootstrap_means([list(pair) for pair in pairs], draws, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = means[0] / means[1]
    return (numerator / denominator, *percentile_interval(samples, level))


def paired_comparison(found: np.ndarray, pos: np.ndarray, reference_found: np.ndarray, reference_pos: np.ndarray,
                      centre: np.ndarray, empty: np.ndarray, *, reference: str, draws: int = BOOTSTRAP_DRAWS,
                      seed: int = 0, gross_px: float = GROSS_PX) -> Paired:
    """The paired RMSE ratio and the total-error ratio of a method against `reference` (module docstring)."""
    return paired_comparison_over_seeds([(found, pos)], reference_found, reference_pos, centre, empty,
                                        reference=reference, draws=draws, seed=seed, gross_px=gross_px)


def paired_comparison_over_seeds(detections: list[tuple[np.ndarray, np.ndarray]], reference_found: np.ndarray,
                                 reference_pos: np.ndarray, centre: np.ndarray, empty: np.ndarray, *, reference: str,
                                 draws: int = BOOTSTRAP_DRAWS, seed: int = 0, gross_px: float = GROSS_PX) -> Paired:
    """`paired_comparison` of a method trained at several seeds, `detections` its (found, pos) per seed on
    the same profiles, pooled over the seeds (module docstring); `paired_n` is the mean over seeds."""
    reference_found, empty = np.asarray(reference_found, dtype=bool), np.asarray(empty, dtype=bool)
    reference_pos, centre = np.asarray(reference_pos, dtype=np.float64), np.asarray(centre, dtype=np.float64)
    reference_good = good_mask(reference_found, reference_pos, centre, empty, gross_px)
    reference_total = capped_squared_errors(reference_found, reference_pos, centre, empty, gross_px)
    squares, reference_squares, totals = [], [], []
    for found, pos in detections:
        found, pos = np.asarray(found, dtype=bool), np.asarray(pos, dtype=np.float64)
        both = good_mask(found, pos, centre, empty, gross_px) & reference_good
        squares.append((pos - centre)[both] ** 2)
        reference_squares.append((reference_pos - centre)[both] ** 2)
        totals.append(capped_squared_errors(found, pos, centre, empty, gross_px))
    ratio = ratio_of_means_over_seeds(squares, reference_squares, draws, seed)
    total = ratio_of_means_over_seeds(totals, [reference_total] * len(totals), draws, seed + 1)
    paired_n = float(np.mean([s.size for s in squares]))
    return Paired(reference, int(paired_n) if paired_n.is_integer() else paired_n,
                  *(float(np.sqrt(r)) for r in ratio), *total)

"""Fair comparisons of a method with a reference method (BR8 by default) on the same profiles.

Each method's own RMSE counts only the lines it finds within 1 px, so two methods are measured on
different lines. Two comparisons are fair to methods that detect different lines:

- **paired RMSE ratio**: RMSE of the method over RMSE of the reference on the lines *both* find within
  1 px (`GROSS_PX`), with a 95% paired-bootstrap interval (the same resampled lines for both);
- **total-error ratio**: the method's total error `mean(min(err^2, 1))` (a missed line counts 1) over
  the reference's, over every line profile, with the same paired bootstrap.

One test set comes from one seed, so the bootstrap resamples profiles only; `seeded_ratio` pools several
training seeds evaluated on the same profiles, resampling seeds, then profiles.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from workbench.evaluation.metrics import (BOOTSTRAP_DRAWS, CI_LEVEL, GROSS_PX, bootstrap_means,
                                          capped_squared_errors, good_mask, percentile_interval)

NAN = float("nan")
DEFAULT_REFERENCE = "br8"
"""The classical method every other is paired with: the best dedicated detector of the quick run."""


@dataclass(frozen=True)
class Paired:
    """A method against a reference on the same profiles; NaN where nothing can be compared."""

    reference: str
    paired_n: int
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
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.mean() == 0:
        return NAN, NAN, NAN
    means = bootstrap_means([a, b], draws, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = means[0] / means[1]
    return (float(a.mean() / b.mean()), *percentile_interval(samples, level))


def seeded_ratio(pairs: list[tuple[np.ndarray, np.ndarray]], draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
                 level: float = CI_LEVEL) -> tuple[float, float, float]:
    """Pooled mean(a) / mean(b) over seeds' paired arrays `[(a_k, b_k), ...]` and its bootstrap interval:
    each draw resamples the seeds, then each drawn seed's pairs (the same indices for a and b)."""
    pairs = [(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)) for a, b in pairs]
    if not pairs or any(a.shape != b.shape or a.size == 0 for a, b in pairs):
        return NAN, NAN, NAN
    a_all, b_all = np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])
    if b_all.mean() == 0:
        return NAN, NAN, NAN
    rng = np.random.default_rng(seed)
    samples = np.empty(draws)
    for draw in range(draws):
        sums = np.zeros(2)
        for k in rng.integers(0, len(pairs), len(pairs)):
            a, b = pairs[k]
            index = rng.integers(0, a.size, a.size)
            sums += a[index].sum(), b[index].sum()
        samples[draw] = sums[0] / sums[1] if sums[1] else np.nan
    return (float(a_all.mean() / b_all.mean()), *percentile_interval(samples, level))


def paired_comparison(found: np.ndarray, pos: np.ndarray, reference_found: np.ndarray, reference_pos: np.ndarray,
                      centre: np.ndarray, empty: np.ndarray, *, reference: str, draws: int = BOOTSTRAP_DRAWS,
                      seed: int = 0, gross_px: float = GROSS_PX) -> Paired:
    """The paired RMSE ratio and the total-error ratio of a method against `reference` (module docstring)."""
    found, reference_found, empty = (np.asarray(a, dtype=bool) for a in (found, reference_found, empty))
    pos, reference_pos, centre = (np.asarray(a, dtype=np.float64) for a in (pos, reference_pos, centre))
    both = good_mask(found, pos, centre, empty, gross_px) & good_mask(reference_found, reference_pos, centre,
                                                                      empty, gross_px)
    ratio = ratio_of_means((pos - centre)[both] ** 2, (reference_pos - centre)[both] ** 2, draws, seed)
    totals = ratio_of_means(capped_squared_errors(found, pos, centre, empty, gross_px),
                            capped_squared_errors(reference_found, reference_pos, centre, empty, gross_px),
                            draws, seed + 1)
    return Paired(reference, int(both.sum()), *(float(np.sqrt(r)) for r in ratio), *totals)

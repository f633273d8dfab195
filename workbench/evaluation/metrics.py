"""Accuracy metrics of a detector's (found, pos) against ground truth (design.md section 5).

Profiles split into empty ones (no line) and line profiles. On empty profiles: the false-alarm rate
(share reported as found). On line profiles, which partition into missed, gross (found with
|pos - centre| > `GROSS_PX`) and good: the miss rate and gross-error rate (both over all line
profiles), and over the good ones the RMSE (with a seeded 95% bootstrap interval) and bias
(mean of pos - centre). The S-curve is the bias of good estimates binned by sub-pixel phase
centre - round(centre), in [-1/2, 1/2).

Against the yardstick (`docs/yardstick.md`): given per-profile Cramér–Rao bounds of the centre,
`crlb_px` is the square root of the mean bound over the good profiles (those the RMSE uses) and
`efficiency` = RMSE / `crlb_px`. The total error counts every line profile, so that no method gains by
moving hard lines into "gross" or "missed": `mean(min(err^2, 1 px^2))` with a missed line counted as 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from workbench.errors import ConfigError

GROSS_PX = 1.0
BOOTSTRAP_DRAWS = 1000
CI_LEVEL = 0.95


@dataclass(frozen=True)
class Metrics:
    """One method's accuracy on one set of profiles; NaN where a rate or error has no profile to count."""

    n: int
    n_empty: int
    n_good: int
    miss_rate: float
    false_alarm_rate: float
    gross_error_rate: float
    rmse_px: float
    rmse_ci_low: float
    rmse_ci_high: float
    bias_px: float
    total_error: float = float("nan")
    crlb_px: float = float("nan")
    crlb_free_px: float = float("nan")
    efficiency: float = float("nan")

    def as_dict(self) -> dict[str, float | int]:
        """Field name to value."""
        return asdict(self)


def _rate(count: int, total: int) -> float:
    return count / total if total else float("nan")


def bootstrap_means(arrays: list[np.ndarray], draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> np.ndarray:
    """(len(arrays), draws) means of seeded resamples, the same resampled indices for every array
    (a paired bootstrap when the arrays are paired); the arrays share one non-zero length."""
    if draws < 1:
        raise ConfigError(f"bootstrap draws {draws!r} invalid; allowed draws >= 1")
    size = arrays[0].size
    rng = np.random.default_rng(seed)
    per_block = max(1, 2_000_000 // size)  # bound memory of one block of resamples
    blocks = []
    for start in range(0, draws, per_block):
        index = rng.integers(0, size, (min(per_block, draws - start), size))
        blocks.append([a[index].mean(axis=1) for a in arrays])
    return np.array([np.concatenate([b[k] for b in blocks]) for k in range(len(arrays))])


def seed_bootstrap_means(groups: list[list[np.ndarray]], draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> np.ndarray:
    """Two-stage bootstrap over training seeds, then profiles: (k, draws) resampled means.

    `groups[s]` holds seed s's k paired arrays (one length within a seed). Each draw picks as many
    seeds as there are, with replacement, resamples each picked seed's profiles (the same indices for
    its k arrays; a seed picked twice is resampled twice, independently) and averages the within-seed
    means over the picked seeds. Seeds whose arrays are empty are left out. With one seed this is
    `bootstrap_means` of its arrays, draw for draw."""
    groups = [group for group in groups if group[0].size]
    if not groups:
        raise ConfigError("seed bootstrap of no values; need at least one seed with a non-empty array")
    if len(groups) == 1:
        return bootstrap_means(groups[0], draws, seed)
    if draws < 1:
        raise ConfigError(f"bootstrap draws {draws!r} invalid; allowed draws >= 1")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(groups), (draws, len(groups)))
    totals = np.zeros((len(groups[0]), draws))
    for index, group in enumerate(groups):
        rows = np.nonzero(picks == index)[0]  # the draw of every slot that picked this seed
        sub_seed = int(rng.integers(2**63))
        if rows.size:
            means = bootstrap_means(group, rows.size, sub_seed)
            for k in range(len(group)):
                np.add.at(totals[k], rows, means[k])
    return totals / len(groups)


def percentile_interval(samples: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap samples."""
    if not 0 < level < 1:
        raise ConfigError(f"interval level {level!r} invalid; allowed 0 < level < 1")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_rmse_ci(errors: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
                      level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of the RMSE of `errors` (seeded; NaN for no errors)."""
    return seed_rmse([errors], draws, seed, level)[1:]


def seed_rmse(errors_by_seed: list[np.ndarray], draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
              level: float = CI_LEVEL) -> tuple[float, float, float]:
    """RMSE over training seeds (root of the mean over seeds of each seed's mean squared error) and its
    interval from `seed_bootstrap_means`; seeds without errors are left out, NaN when none has any."""
    squares = [np.asarray(e, dtype=np.float64) ** 2 for e in errors_by_seed]
    squares = [s for s in squares if s.size]
    if not squares:
        return float("nan"), float("nan"), float("nan")
    if draws < 1 or not 0 < level < 1:
        raise ConfigError(f"bootstrap draws {draws!r} / level {level!r} invalid; allowed draws >= 1, 0 < level < 1")
    rmse = float(np.sqrt(np.mean([s.mean() for s in squares])))
    return (rmse, *percentile_interval(np.sqrt(seed_bootstrap_means([[s] for s in squares], draws, seed)[0]), level))


def _check(found: np.ndarray, pos: np.ndarray, centre: np.ndarray, empty: np.ndarray) -> None:
    shapes = {a.shape for a in (found, pos, centre, empty)}
    if len(shapes) != 1 or found.ndim != 1:
        raise ConfigError(f"found/pos/centre/empty shapes {sorted(shapes)} differ; allowed equal 1-D shapes")


def good_mask(found: np.ndarray, pos: np.ndarray, centre: np.ndarray, empty: np.ndarray,
              gross_px: float = GROSS_PX) -> np.ndarray:
    """Line profiles found within `gross_px` of the true centre."""
    with np.errstate(invalid="ignore"):
        return found & ~empty & (np.abs(pos - centre) <= gross_px)


def capped_squared_errors(found: np.ndarray, pos: np.ndarray, centre: np.ndarray, empty: np.ndarray,
                          gross_px: float = GROSS_PX) -> np.ndarray:
    """Per line profile `min(err^2, gross_px^2)`, a missed line counting `gross_px^2` (px^2)."""
    line = ~empty
    with np.errstate(invalid="ignore"):
        squared = np.minimum((pos - centre) ** 2, gross_px**2)
    return np.where(found[line], squared[line], gross_px**2)


def _root_mean(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values))) if values.size else float("nan")


def compute_metrics(found: np.ndarray, pos: np.ndarray, centre: np.ndarray, empty: np.ndarray, *,
                    gross_px: float = GROSS_PX, draws: int = BOOTSTRAP_DRAWS, seed: int = 0,
                    crlb: np.ndarray | None = None, crlb_free: np.ndarray | None = None) -> Metrics:
    """Every metric of the module docstring for one method on one set of profiles; `crlb` and
    `crlb_free` are per-profile bounds of the centre (px^2, as `workbench.evaluation.bound` gives)."""
    found, empty = np.asarray(found, dtype=bool), np.asarray(empty, dtype=bool)
    pos, centre = np.asarray(pos, dtype=np.float64), np.asarray(centre, dtype=np.float64)
    _check(found, pos, centre, empty)
    line = ~empty
    good = good_mask(found, pos, centre, empty, gross_px)
    n_line = int(line.sum())
    errors = (pos - centre)[good]
    low, high = bootstrap_rmse_ci(errors, draws, seed)
    rmse = _root_mean(errors**2)
    crlb_px, crlb_free_px = (_root_mean(np.asarray(b, dtype=np.float64)[good]) if b is not None else float("nan")
                             for b in (crlb, crlb_free))
    losses = capped_squared_errors(found, pos, centre, empty, gross_px)
    return Metrics(
        n=int(found.size), n_empty=int(empty.sum()), n_good=int(good.sum()),
        miss_rate=_rate(int((line & ~found).sum()), n_line),
        false_alarm_rate=_rate(int((empty & found).sum()), int(empty.sum())),
        gross_error_rate=_rate(int((line & found & ~good).sum()), n_line),
        rmse_px=rmse, rmse_ci_low=low, rmse_ci_high=high,
        bias_px=float(errors.mean()) if errors.size else float("nan"),
        total_error=float(losses.mean()) if losses.size else float("nan"),
        crlb_px=crlb_px, crlb_free_px=crlb_free_px, efficiency=rmse / crlb_px,
    )


def subpixel_phase(centre: np.ndarray) -> np.ndarray:
    """centre - round(centre), in [-1/2, 1/2) (half-way values go to -1/2)."""
    centre = np.asarray(centre, dtype=np.float64)
    return centre - np.floor(centre + 0.5)


def s_curve(found: np.ndarray, pos: np.ndarray, centre: np.ndarray, empty: np.ndarray, bins: int = 20,
            gross_px: float = GROSS_PX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, mean error of good estimates per phase bin, count per bin); NaN for empty bins."""
    if bins < 1:
        raise ConfigError(f"S-curve bins {bins!r} invalid; allowed >= 1")
    good = good_mask(np.asarray(found, dtype=bool), np.asarray(pos, dtype=np.float64),
                     np.asarray(centre, dtype=np.float64), np.asarray(empty, dtype=bool), gross_px)
    phase = subpixel_phase(np.asarray(centre)[good])
    errors = (np.asarray(pos, dtype=np.float64) - np.asarray(centre))[good]
    index = np.clip(np.floor((phase + 0.5) * bins).astype(int), 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    total = np.bincount(index, weights=errors, minlength=bins)
    bias = np.divide(total, count, out=np.full(bins, np.nan), where=count > 0)
    centres = (np.arange(bins) + 0.5) / bins - 0.5
    return centres, bias, count

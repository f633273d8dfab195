"""Comparison harness: run detectors over named test sets, one accuracy row per (method, condition).

`evaluate(detectors, test_sets)` returns plain dict rows (columns `ACCURACY_COLUMNS`) and S-curve
rows (`S_CURVE_COLUMNS`); writing them is separate (`write_csv`), so every stage that adds methods
(float, quantized, TFLite networks) appends rows of the same table; `merge_csv` concatenates the
per-stage files into `tables/accuracy.csv`. `bits` is empty for float and classical methods, `snr`
empty for conditions whose SNR varies per profile.

Every row is measured against the yardstick of its test set (`Yardstick`, computed once per condition):
the Cramér–Rao bound of the centre (`crlb_px`, `crlb_free_px`, `efficiency`; `workbench.evaluation.bound`)
and, when a reference detector is given, the paired comparison with it (`reference`, `paired_n`,
`rmse_ratio*`, `total_error_ratio*`; `workbench.evaluation.comparison`). The columns before them are
those of the first version of the table, unchanged.

A network trained at several seeds (run_all's study mode) gets one row per seed and a pooled row
(`accuracy_row` with every seed's detections): means over seeds, and intervals from the two-stage
bootstrap over seeds, then profiles.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from workbench.data.datasets import Dataset
from workbench.files import atomic_write_text
from workbench.detectors.interface import Detector
from workbench.evaluation.bound import CentreBound, dataset_bounds
from workbench.evaluation.comparison import paired_comparison_over_seeds
from workbench.evaluation.metrics import BOOTSTRAP_DRAWS, Metrics, compute_metrics, good_mask, s_curve, seed_rmse
from workbench.data.signals import preset_snr

ACCURACY_COLUMNS = ("method", "bits", "condition", "snr", "n", "rmse_px", "rmse_ci_low", "rmse_ci_high",
                    "bias_px", "gross_error_rate", "miss_rate", "false_alarm_rate", "n_empty", "n_good",
                    "total_error", "crlb_px", "crlb_free_px", "efficiency", "reference", "paired_n", "rmse_ratio",
                    "rmse_ratio_ci_low", "rmse_ratio_ci_high", "total_error_ratio", "total_error_ratio_ci_low",
                    "total_error_ratio_ci_high")
S_CURVE_COLUMNS = ("method", "bits", "condition", "phase", "bias_px", "count")
# every comparison with the golden model (Keras integer mode, MyHDL, GHDL, Icarus), merged by the report
BITEXACT_COLUMNS = ("model", "stage", "lanes", "profiles", "compared", "mismatches", "seconds", "clocks_per_s")
S_CURVE_BINS = 20
S_CURVE_CONDITION = "snr_64"  # the S-curve's condition: systematic errors stand out above the noise
Row = dict[str, Any]
GENERATOR_REQUEST = {"config", "seed", "n"}
POOLED_MEANS = ("n_good", "miss_rate", "false_alarm_rate", "gross_error_rate", "bias_px", "total_error")  # the manifest keys the bound regenerates a test set from


def bootstrap_seed(seed: int, method: str, condition: str) -> int:
    """The bootstrap seed of one (method, condition), independent of evaluation order."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{method}/{condition}".encode()).digest()[:4], "big")


@dataclass(frozen=True)
class Yardstick:
    """What every method is measured against on one test set: the bound of the centre and, when a
    reference detector is named, its detections."""

    bound: CentreBound | None
    reference: str | None = None
    reference_found: np.ndarray | None = None
    reference_pos: np.ndarray | None = None


def yardstick(dataset: Dataset, reference: Detector | None = None) -> Yardstick:
    """The yardstick of one test set (the reference detector run on it once). A dataset built by hand,
    whose manifest records no generator request, has no bound: its bound columns stay NaN."""
    bound = dataset_bounds(dataset) if GENERATOR_REQUEST <= set(dataset.manifest) else None
    if reference is None:
        return Yardstick(bound)
    found, pos = reference.detect(dataset.profiles)
    return Yardstick(bound, reference.name, found, pos)


def evaluate_one(detector: Detector, test_sets: dict[str, Dataset], seed: int = 0, draws: int = BOOTSTRAP_DRAWS,
                 s_curve_conditions: tuple[str, ...] = (),
                 yardsticks: dict[str, Yardstick] | None = None) -> tuple[list[Row], list[Row]]:
    """Accuracy rows of one detector on every condition, and S-curve rows for the named conditions;
    `yardsticks` per condition (computed here, without a reference, when absent)."""
    rows: list[Row] = []
    curves: list[Row] = []
    for condition, dataset in test_sets.items():
        found, pos = detector.detect(dataset.profiles)
        stick = yardsticks[condition] if yardsticks is not None else yardstick(dataset)
        rows.append(accuracy_row(detector.name, detector.bits, condition, [(found, pos)], dataset, stick, seed, draws))
        if condition in s_curve_conditions:
            curves += s_curve_rows(detector.name, detector.bits, condition, [(found, pos)], dataset)
    return rows, curves


def accuracy_row(method: str, bits: str | None, condition: str, detections: list[tuple[np.ndarray, np.ndarray]],
                 dataset: Dataset, stick: Yardstick, seed: int = 0, draws: int = BOOTSTRAP_DRAWS) -> Row:
    """The accuracy row of a method's `(found, pos)` on one test set; with several training seeds (one
    `(found, pos)` each) the seeds are pooled: rates, bias and total error are means over the seeds, the
    RMSE is the root of the mean over seeds of each seed's mean squared error and its interval, as the
    paired ratios', comes from the two-stage bootstrap over seeds, then profiles. One seed: `compute_metrics`."""
    centre, empty = dataset.truth["centre"], dataset.truth["empty"]
    bootstrap = bootstrap_seed(seed, method, condition)
    per_seed = [compute_metrics(found, pos, centre, empty, draws=draws, seed=bootstrap,
                                crlb=stick.bound and stick.bound.known, crlb_free=stick.bound and stick.bound.free)
                for found, pos in detections]
    metrics = per_seed[0].as_dict() if len(per_seed) == 1 else _pooled_metrics(per_seed, detections, centre, empty,
                                                                               bootstrap, draws)
    row = {"method": method, "bits": bits, "condition": condition, "snr": preset_snr(condition), **metrics}
    if stick.reference is not None:
        paired = paired_comparison_over_seeds(detections, stick.reference_found, stick.reference_pos, centre, empty,
                                              reference=stick.reference, draws=draws,
                                              seed=bootstrap_seed(seed, f"{method}/{stick.reference}", condition))
        row.update(paired.as_dict())
    return row


def _pooled_metrics(per_seed: list[Metrics], detections: list[tuple[np.ndarray, np.ndarray]], centre: np.ndarray,
                    empty: np.ndarray, bootstrap: int, draws: int) -> Row:
    """`accuracy_row`'s pooling of several seeds' metrics (NaN values left out of the means)."""
    pooled = {name: _mean_over_seeds([getattr(m, name) for m in per_seed]) for name in POOLED_MEANS}
    errors = []
    for found, pos in detections:
        found, pos = np.asarray(found, dtype=bool), np.asarray(pos, dtype=np.float64)
        errors.append((pos - centre)[good_mask(found, pos, centre, np.asarray(empty, dtype=bool))])
    rmse, low, high = seed_rmse(errors, draws, bootstrap)
    crlb_px, crlb_free_px = (math.sqrt(_mean_over_seeds([getattr(m, name) ** 2 for m in per_seed]))
                             for name in ("crlb_px", "crlb_free_px"))
    return {"n": per_seed[0].n, "n_empty": per_seed[0].n_empty, **pooled, "rmse_px": rmse, "rmse_ci_low": low,
            "rmse_ci_high": high, "crlb_px": crlb_px, "crlb_free_px": crlb_free_px, "efficiency": rmse / crlb_px}


def _mean_over_seeds(values: list[float]) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def s_curve_rows(method: str, bits: str | None, condition: str, detections: list[tuple[np.ndarray, np.ndarray]],
                 dataset: Dataset) -> list[Row]:
    """S-curve rows (`S_CURVE_COLUMNS`) of a method on one test set; over several seeds, the detections of
    every seed together."""
    found, pos = (np.concatenate([d[k] for d in detections]) for k in (0, 1))
    repeat_count = len(detections)
    centre, empty = (np.tile(dataset.truth[k], repeat_count) for k in ("centre", "empty"))
    phase, bias, count = s_curve(found, pos, centre, empty, S_CURVE_BINS)
    head = {"method": method, "bits": bits, "condition": condition}
    return [{**head, "phase": p, "bias_px": b, "count": int(c)} for p, b, c in zip(phase, bias, count)]


def evaluate(detectors: Iterable[Detector], test_sets: dict[str, Dataset], *, seed: int = 0,
             draws: int = BOOTSTRAP_DRAWS, s_curve_conditions: Iterable[str] = (),
             workers: int = 1, reference: Detector | None = None) -> tuple[list[Row], list[Row]]:
    """`evaluate_one` for every (detector, condition) pair, in `workers` processes when > 1 (detectors
    must then pickle). Rows come in detector order, then condition order, whatever `workers` is.
    `reference`: the detector every method is paired with (BR8 in run_all), or None for no paired columns.
    """
    wanted = tuple(s_curve_conditions)
    sticks = {name: yardstick(dataset, reference) for name, dataset in test_sets.items()}
    pairs = [(detector, name, dataset) for detector in detectors for name, dataset in test_sets.items()]
    args = ([d for d, _, _ in pairs], [{name: ds} for _, name, ds in pairs], repeat(seed), repeat(draws),
            repeat(wanted), [{name: sticks[name]} for _, name, _ in pairs])
    if workers <= 1:
        results = list(map(evaluate_one, *args))
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(evaluate_one, *args))
    return [r for rows, _ in results for r in rows], [c for _, curves in results for c in curves]


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_csv(rows: list[Row], path: Path | str, columns: tuple[str, ...] = ACCURACY_COLUMNS) -> Path:
    """Write rows (missing keys empty, extra keys dropped) atomically as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_format(row.get(c)) for c in columns] for row in rows])
    path = Path(path)
    atomic_write_text(path, buffer.getvalue())
    return path


def read_csv(path: Path | str) -> list[Row]:
    """Rows of a CSV written by `write_csv`, numbers parsed (empty cells become None)."""
    with open(path, newline="") as handle:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _parse(text: str) -> Any:
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def merge_csv(paths: Iterable[Path], out: Path | str, columns: tuple[str, ...] = ACCURACY_COLUMNS) -> list[Row]:
    """Concatenate CSV files (in the given order) into one; returns the merged rows."""
    rows = [row for path in paths for row in read_csv(path)]
    write_csv(rows, out, columns)
    return rows

"""Range maps: the height each detector recovers from a frame sequence, its error and RMSE.

A detector runs on every column of every frame (one profile per column, as the hardware streams);
its row per (frame, column) becomes a height through the geometry (`Geometry.height_of_row`). The
error is against the scene's height map; RMSE in px (rows) and mm is over the columns where a line was
found and the row error is at most 1 px; farther ones count as gross errors, unfound ones as misses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.data.frames import FrameSet
from workbench.detectors.interface import Detector
from workbench.evaluation.line_detection import detect_in_frames

RANGE_COLUMNS = ("method", "bits", "scene", "n", "rmse_px", "rmse_mm", "max_error_mm", "gross_error_rate", "miss_rate")
GROSS_ERROR_PX = 1.0


@dataclass(frozen=True)
class RangeMap:
    """A detector's result on a frame set: found, row and height per (frame, column), and the height error."""

    name: str
    bits: str | None
    found: np.ndarray
    rows: np.ndarray
    heights: np.ndarray
    error_mm: np.ndarray  # NaN where nothing was found

    def good(self, truth_rows: np.ndarray) -> np.ndarray:
        """Found and within `GROSS_ERROR_PX` of the true row."""
        return self.found & (np.abs(self.rows - truth_rows) <= GROSS_ERROR_PX)


def range_map(detector: Detector, frame_set: FrameSet) -> RangeMap:
    """Run `detector` on every column profile of every frame and convert its rows to heights."""
    found, pos = detect_in_frames(detector, frame_set.frames.astype(np.int64), "columns")
    rows = np.where(found, pos, np.nan)
    heights = frame_set.geometry.height_of_row(rows)
    return RangeMap(detector.name, getattr(detector, "bits", None), found, rows, heights, heights - frame_set.heights)


def range_row(result: RangeMap, frame_set: FrameSet) -> dict[str, Any]:
    """One table row: RMSE in px and mm over the good columns, largest error, gross-error and miss rates."""
    good = result.good(frame_set.rows)
    n = result.found.size
    row_error = (result.rows - frame_set.rows)[good]
    mm_error = result.error_mm[good]
    return {"method": result.name, "bits": result.bits, "scene": frame_set.scene.kind, "n": n,
            "rmse_px": _rms(row_error), "rmse_mm": _rms(mm_error),
            "max_error_mm": float(np.abs(mm_error).max()) if mm_error.size else float("nan"),
            "gross_error_rate": float((result.found & ~good).sum() / n), "miss_rate": float((~result.found).sum() / n)}


def _rms(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors ** 2))) if errors.size else float("nan")


def range_maps(detectors: list[Detector], frame_set: FrameSet) -> tuple[list[RangeMap], list[dict[str, Any]]]:
    """Every detector's range map and table row, in order."""
    maps = [range_map(d, frame_set) for d in detectors]
    return maps, [range_row(m, frame_set) for m in maps]

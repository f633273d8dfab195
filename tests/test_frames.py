"""The frame generator (geometry, truth against the height map), `generate --frames`, and range maps."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile

from workbench.cli import main
from workbench.data import signals
from workbench.data.frames import SCENES, FrameSet, Geometry, Scene, render_frames
from workbench.detectors.classical import make_detector
from workbench.evaluation.range_maps import range_maps, range_row, range_map

SMALL = Geometry(rows=96, columns=40, reference_row=80.0)


def small_set(kind: str, seed: int = 1, preset: str = "snr_64") -> FrameSet:
    return render_frames(Scene(kind, height_mm=0.8, frames=12, scan_step_mm=0.3), SMALL, signals.preset(preset), seed)


def test_geometry_inverts_and_matches_the_small_height_slope() -> None:
    geometry = Geometry()
    z = np.linspace(-5.0, 10.0, 301)
    assert np.allclose(geometry.height_of_row(geometry.row_of_height(z)), z, rtol=0, atol=1e-12)
    slope = (geometry.row_of_height(1e-6) - geometry.row_of_height(0.0)) / 1e-6  # px per mm near z = 0
    expected = -geometry.magnification * math.sin(geometry.theta) / (geometry.pixel_pitch_um * 1e-3)
    assert slope == pytest.approx(expected, rel=1e-5)
    assert geometry.row_of_height(0.0) == geometry.reference_row


@pytest.mark.parametrize("kind", SCENES)
def test_truth_agrees_with_the_height_map(kind: str) -> None:
    frame_set = small_set(kind)
    assert frame_set.frames.shape == (12, 96, 40) and frame_set.rows.shape == (12, 40)
    assert np.array_equal(frame_set.truth["centre"], frame_set.rows)
    assert np.allclose(frame_set.geometry.height_of_row(frame_set.rows), frame_set.heights, rtol=0, atol=1e-9)
    assert frame_set.heights.min() >= 0 and frame_set.heights.max() == pytest.approx(0.8, abs=0.05)
    # the line is in the frames where the truth says: the brightest pixel of each column sits on it
    brightest = np.argmax(frame_set.frames, axis=1)
    assert np.mean(np.abs(brightest - frame_set.rows) <= 2) > 0.95
    assert np.mean(np.abs(brightest - (frame_set.rows + 6)) <= 2) < 0.05  # control: a wrong truth disagrees


def test_steps_have_three_levels_and_the_same_seed_the_same_frames() -> None:
    steps = small_set("steps")
    assert sorted(np.unique(steps.heights)) == [0.0, 0.4, 0.8]
    assert np.array_equal(small_set("steps").frames, steps.frames)
    assert not np.array_equal(small_set("steps", seed=2).frames, steps.frames)


@dataclass(frozen=True)
class ShiftedTruth:
    """A detector that reports the true row plus a known error (gross on some columns, nothing on others)."""

    truth: np.ndarray
    name: str = "oracle"
    bits: str | None = None

    def detect(self, profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = self.truth.ravel() + 0.25
        rows[::10] += 3.0  # gross errors
        found = np.ones(rows.size, dtype=bool)
        found[5::10] = False
        return found, np.where(found, rows, 0.0)


def test_range_table_numbers_from_a_known_error() -> None:
    frame_set = small_set("ramp")
    result = range_map(ShiftedTruth(frame_set.rows), frame_set)
    row = range_row(result, frame_set)
    n = frame_set.rows.size
    assert row["n"] == n and row["rmse_px"] == pytest.approx(0.25, abs=1e-12)
    assert row["gross_error_rate"] == pytest.approx(len(range(0, n, 10)) / n)
    assert row["miss_rate"] == pytest.approx(len(range(5, n, 10)) / n)
    good = result.good(frame_set.rows)
    want_mm = frame_set.geometry.height_of_row(frame_set.rows + 0.25) - frame_set.heights
    assert row["rmse_mm"] == pytest.approx(float(np.sqrt(np.mean(want_mm[good] ** 2))), rel=1e-12)
    assert np.isnan(result.error_mm.ravel()[5])


def test_a_subpixel_detector_beats_argmax_on_the_range_map() -> None:
    frame_set = small_set("sphere", preset="snr_32")
    _, rows = range_maps([make_detector("argmax"), make_detector("br8")], frame_set)
    assert [r["method"] for r in rows] == ["argmax", "br8"]
    assert rows[1]["rmse_px"] < rows[0]["rmse_px"]


def test_generate_frames_writes_a_stack_that_detect_reads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "f"
    assert main(["generate", "--frames", "--scene", "ramp", "--preset", "snr_64", "-n", "6", "--length", "96",
                 "--columns", "32", "--reference-row", "80", "--height", "2", "--out", str(out)]) == 0
    stack = tifffile.imread(out / "frames.tif")
    truth = np.load(out / "truth.npz")
    manifest = json.loads((out / "frames.json").read_text())
    assert stack.shape == (6, 96, 32) and stack.dtype == np.uint8
    assert manifest["scene"]["kind"] == "ramp" and manifest["geometry"]["columns"] == 32 and manifest["seed"] == 0
    assert truth["rows"].shape == (6, 32) and np.array_equal(truth["centre"], truth["rows"])
    assert main(["detect", str(out / "frames.tif"), "--detector", "br8", "--out", str(tmp_path / "d")]) == 0
    positions = np.loadtxt(tmp_path / "d" / "positions.csv", delimiter=",", skiprows=1, usecols=4)
    assert np.sqrt(np.mean((positions - truth["rows"].ravel()) ** 2)) < 0.5


@pytest.mark.parametrize("args, phrase", [
    (["--scene", "cube"], "scene 'cube' unknown"),
    (["--angle", "95"], "angle_deg 95.0 out of range"),
    (["--scene", "sphere", "--height", "50"], "exceeds its footprint radius"),
    (["--height", "40"], "the line leaves the frame"),
    (["-n", "0"], "scene frames 0 out of range"),
])
def test_bad_frame_options_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                                                phrase: str) -> None:
    out = tmp_path / "f"
    assert main(["generate", "--frames", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert phrase in err and "\n" not in err
    assert not out.exists()

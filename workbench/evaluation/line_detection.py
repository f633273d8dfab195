"""A detector applied to the user's frames: line positions per profile, a CSV and overlay images.

`detect_files(request)` is the whole `workbench detect` action: read the input
(`workbench.data.user_data`), build the detector (`workbench.evaluation.detector_spec`), check or
rescale the depth, detect in every profile of every frame at once, then write `positions.csv`
(`frame, source, column|row, found, position_px`; the position empty where no line was found) and,
for images, one overlay PNG per frame with the detected points drawn on it. Every check runs before
the first file is written, and each file is written to a temporary name and renamed.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from workbench.files import atomic_write
from workbench.data.user_data import Frames, check_orientation, profiles, read_frames, to_depth
from workbench.detectors.interface import Detector
from workbench.evaluation.detector_spec import build_detector

POSITIONS_FILE = "positions.csv"
OVERLAY_FOLDER = "overlays"
OVERLAY_MIN_SIDE = 512  # px: small frames are drawn enlarged so the points stay visible


@dataclass(frozen=True)
class DetectRequest:
    """What `workbench detect` was asked: input, detector spec and its settings, orientation, output."""

    source: Path
    detector: str
    out: Path
    window: float | None = None
    threshold: float | None = None
    along: str | None = None  # default: columns for images, rows for arrays
    depth: int | None = None
    rescale: bool = False
    overlays: bool = True


@dataclass(frozen=True)
class Detections:
    """Where a detector found the line in every profile of every frame: `found`, `pos` of shape `(F, N)`."""

    frames: Frames
    along: str
    found: np.ndarray
    pos: np.ndarray


def default_orientation(frames: Frames) -> str:
    """One profile per column for images (what the hardware streams), per row for arrays `(N, L)`."""
    return "columns" if frames.images else "rows"


def detect_in_frames(detector: Detector, values: np.ndarray, along: str) -> tuple[np.ndarray, np.ndarray]:
    """`(found, pos)`, each `(F, N)`, of `detector` on every profile of frames `values` `(F, H, W)`, in one batch."""
    batch = profiles(values, along)
    count, per_frame, length = batch.shape
    found, pos = detector.detect(batch.reshape(count * per_frame, length))
    return np.asarray(found, bool).reshape(count, per_frame), np.asarray(pos, np.float64).reshape(count, per_frame)


def positions_csv(detections: Detections) -> bytes:
    """The CSV text: one row per profile, the position empty where no line was found."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("frame", "source", detections.along[:-1], "found", "position_px"))
    for frame, source in enumerate(detections.frames.sources):
        for index, (found, pos) in enumerate(zip(detections.found[frame], detections.pos[frame])):
            writer.writerow((frame, source, index, int(found), repr(float(pos)) if found else ""))
    return buffer.getvalue().encode()


def overlay_png(frame: np.ndarray, depth: int, found: np.ndarray, pos: np.ndarray, along: str) -> bytes:
    """A PNG of the frame (grey, full scale of its depth) with the detected points in red."""
    height, width = frame.shape
    scale = max(1.0, OVERLAY_MIN_SIDE / max(height, width))
    fig = plt.figure(figsize=(width * scale / 100, height * scale / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(frame, cmap="gray", vmin=0, vmax=(1 << depth) - 1, interpolation="nearest")
    index = np.flatnonzero(found)
    x, y = (index, pos[index]) if along == "columns" else (pos[index], index)
    ax.plot(x, y, linestyle="none", marker=".", markersize=max(1.0, 2.0 * scale ** 0.5), color="red")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def overlay_name(frame: int, source: str) -> str:
    """`<frame>_<source without its image suffix, unsafe characters replaced>.png`: `0003_stack_3.png`."""
    stem = re.sub(r"\.(png|tiff?)(?=\[|$)", "", source, flags=re.IGNORECASE)
    return f"{frame:04d}_{re.sub(r'[^A-Za-z0-9.-]+', '_', stem).strip('_')}.png"


def detect_files(request: DetectRequest) -> tuple[Detections, list[Path]]:
    """Read, check, detect, then write the CSV and (for images) the overlays; returns what it wrote."""
    if request.along is not None:
        check_orientation(request.along)
    built = build_detector(request.detector, request.window, request.threshold)
    frames = read_frames(request.source, request.depth)
    values = to_depth(frames, built.input_bits, request.rescale)
    along = request.along or default_orientation(frames)
    detections = Detections(frames, along, *detect_in_frames(built.detector, values, along))
    written = [request.out / POSITIONS_FILE]
    atomic_write(written[0], lambda f: f.write(positions_csv(detections)))
    if frames.images and request.overlays:
        depth = built.input_bits if request.rescale else frames.depth
        for frame, source in enumerate(frames.sources):
            png = overlay_png(values[frame], depth, detections.found[frame], detections.pos[frame], detections.along)
            written.append(request.out / OVERLAY_FOLDER / overlay_name(frame, source))
            atomic_write(written[-1], lambda f, data=png: f.write(data))
    return detections, written

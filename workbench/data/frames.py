"""Camera frames of a laser sheet over a scene, in a stated triangulation geometry, with their truth.

Geometry (in the plane across the laser line; `docs/frames.md` has the picture): the laser sheet is
the plane y = 0, perpendicular to the reference plane z = 0. The camera's centre sits at
`baseline` from the sheet and looks at the origin at the triangulation angle `theta` from the sheet,
so its working distance is `D = baseline / sin(theta)`; its focal length `f = magnification * D`.
A surface point at height z lit by the sheet is imaged at

    row(z) = reference_row - f z sin(theta) / ((D - z cos(theta)) * pixel_pitch)

(rows grow downwards, so higher points appear higher in the frame), exactly for a pinhole camera;
`height_of_row` inverts it. Columns sample the line direction at `pixel_pitch / magnification` per
column (the lateral scale at the working distance); frame k images the scene at scan position
`k * scan_step` (the object moving under the sheet).

Each column of a frame is a profile of `rows` pixels crossing the line at the true `row(z)`, rendered by
the profile generator (`signals.render_lines`) with its background, noise, reflections, speckle and
saturation, drawn independently per column. Scenes are height maps `z(x, y)` in mm: a plane with steps,
a spherical cap, a ramp. No occlusion or shadowing is modelled: every column sees the line.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import signals
from workbench.files import atomic_write, atomic_write_text
from workbench.data.signals import GeneratorConfig
from workbench.errors import ConfigError

SCENES = ("steps", "sphere", "ramp")
MAX_FRAME_SIDE = 2048
SPHERE_FOOTPRINT = 0.45  # the sphere's footprint radius, as a share of the smaller scanned side


@dataclass(frozen=True)
class Geometry:
    """The triangulation geometry and the frame size; lengths in mm, the pixel pitch in µm."""

    baseline_mm: float = 100.0
    angle_deg: float = 30.0
    pixel_pitch_um: float = 5.0
    magnification: float = 0.1
    rows: int = 256
    columns: int = 256
    reference_row: float = 200.0  # where the reference plane z = 0 is imaged

    def validate(self) -> Geometry:
        """Self, or ConfigError naming the first bad value and its allowed range."""
        checks = [("baseline_mm", self.baseline_mm, 1.0, 1e5), ("angle_deg", self.angle_deg, 1.0, 89.0),
                  ("pixel_pitch_um", self.pixel_pitch_um, 0.1, 100.0), ("magnification", self.magnification, 1e-3, 10.0),
                  ("rows", self.rows, signals.LENGTH_RANGE[0], signals.LENGTH_RANGE[1]),
                  ("columns", self.columns, 1, MAX_FRAME_SIDE), ("reference_row", self.reference_row, 0, self.rows - 1)]
        for name, value, lo, hi in checks:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
                raise ConfigError(f"geometry {name} {value!r} out of range; allowed {lo}..{hi}")
        return self

    @property
    def theta(self) -> float:
        """The triangulation angle in radians."""
        return math.radians(self.angle_deg)

    @property
    def working_distance_mm(self) -> float:
        """D = baseline / sin(theta): camera centre to the origin on the reference plane."""
        return self.baseline_mm / math.sin(self.theta)

    @property
    def focal_mm(self) -> float:
        """f = magnification * D."""
        return self.magnification * self.working_distance_mm

    @property
    def column_mm(self) -> float:
        """The line-direction sampling: pixel pitch / magnification, in mm per column."""
        return self.pixel_pitch_um * 1e-3 / self.magnification

    def row_of_height(self, z: np.ndarray) -> np.ndarray:
        """The (fractional) row where a point at height z (mm) on the sheet is imaged."""
        z = np.asarray(z, dtype=np.float64)
        d, pitch = self.working_distance_mm, self.pixel_pitch_um * 1e-3
        return self.reference_row - self.focal_mm * z * math.sin(self.theta) / ((d - z * math.cos(self.theta)) * pitch)

    def height_of_row(self, row: np.ndarray) -> np.ndarray:
        """The height (mm) imaged at `row`: the inverse of `row_of_height`."""
        shift = (self.reference_row - np.asarray(row, dtype=np.float64)) * self.pixel_pitch_um * 1e-3
        d = self.working_distance_mm
        return shift * d / (self.focal_mm * math.sin(self.theta) + shift * math.cos(self.theta))


@dataclass(frozen=True)
class Scene:
    """A height map kind and its size: `height_mm` the tallest point, `frames` scan positions `scan_step_mm` apart."""

    kind: str = "steps"
    height_mm: float = 5.0
    frames: int = 32
    scan_step_mm: float = 0.4

    def validate(self) -> Scene:
        """Self, or ConfigError naming the bad value and what is allowed."""
        if self.kind not in SCENES:
            raise ConfigError(f"scene {self.kind!r} unknown; allowed {list(SCENES)}")
        if not (isinstance(self.frames, int) and 1 <= self.frames <= MAX_FRAME_SIDE):
            raise ConfigError(f"scene frames {self.frames!r} out of range; allowed 1..{MAX_FRAME_SIDE}")
        for name, value in (("height_mm", self.height_mm), ("scan_step_mm", self.scan_step_mm)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"scene {name} {value!r} invalid; allowed a positive number")
        return self


def height_map(scene: Scene, geometry: Geometry) -> np.ndarray:
    """The scene's heights (mm), `(frames, columns)`: z at every (scan position, column)."""
    u = (np.arange(geometry.columns) + 0.5) / geometry.columns  # across the line, 0..1
    v = (np.arange(scene.frames) + 0.5) / scene.frames  # along the scan, 0..1
    uu, vv = np.meshgrid(u, v)
    if scene.kind == "steps":  # a plane with three steps across the line
        return scene.height_mm * np.floor(3 * uu) / 2
    if scene.kind == "ramp":  # rising across the line
        return scene.height_mm * uu
    width = geometry.columns * geometry.column_mm
    length = scene.frames * scene.scan_step_mm
    radius = SPHERE_FOOTPRINT * min(width, length)  # a spherical cap of that footprint radius, `height_mm` tall
    if scene.height_mm > radius:
        raise ConfigError(f"sphere height_mm {scene.height_mm} exceeds its footprint radius {radius:.3g} mm "
                          f"({SPHERE_FOOTPRINT} of the smaller of the scanned width and length); allowed at most a "
                          "hemisphere: lower the height or scan more columns or frames")
    sphere_r = (radius ** 2 + scene.height_mm ** 2) / (2 * scene.height_mm)
    r2 = ((uu - 0.5) * width) ** 2 + ((vv - 0.5) * length) ** 2
    return np.clip(np.sqrt(np.clip(sphere_r ** 2 - r2, 0, None)) - (sphere_r - scene.height_mm), 0, None)


@dataclass(frozen=True)
class FrameSet:
    """Frames `(F, H, W)` (uint16), the true line row per (frame, column) and the height map, both `(F, W)`."""

    frames: np.ndarray
    rows: np.ndarray
    heights: np.ndarray
    truth: dict[str, np.ndarray]
    geometry: Geometry
    scene: Scene
    config: GeneratorConfig

    def manifest(self) -> dict[str, Any]:
        """Every parameter, for the files written beside the frames."""
        return {"geometry": asdict(self.geometry), "scene": asdict(self.scene), "config": self.config.to_dict()}


def render_frames(scene: Scene, geometry: Geometry, config: GeneratorConfig, seed: int) -> FrameSet:
    """Seeded frames of the scene: one profile per column, lines at the geometry's rows, no empty column."""
    scene, geometry = scene.validate(), geometry.validate()
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r} invalid; allowed a non-negative integer")
    config = replace(config, length=geometry.rows).validate()
    heights = height_map(scene, geometry)
    rows = geometry.row_of_height(heights)
    margin = config.edge_margin
    if rows.min() < margin or rows.max() > geometry.rows - 1 - margin:
        raise ConfigError(f"the line leaves the frame: rows {rows.min():.1f}..{rows.max():.1f}; allowed "
                          f"{margin}..{geometry.rows - 1 - margin} (lower height_mm or magnification, or "
                          "move reference_row)")
    rng = np.random.default_rng(seed)
    count = rows.size
    sigma = rng.uniform(*config.sigma_range, count)
    profiles, truth = signals.render_lines(config, rows.ravel(), sigma, np.zeros(count, dtype=bool), rng)
    frames = profiles.reshape(scene.frames, geometry.columns, geometry.rows).transpose(0, 2, 1)
    truth = {key: value.reshape(scene.frames, geometry.columns) for key, value in truth.items()}
    return FrameSet(np.ascontiguousarray(frames), rows, heights, truth, geometry, scene, config)


FRAMES_FILE, TRUTH_FILE, MANIFEST_FILE = "frames.tif", "truth.npz", "frames.json"


def save_frames(frame_set: FrameSet, seed: int, folder: Path) -> list[Path]:
    """Write `frames.tif` (a stack, 8-bit for 8-bit sensors, else 16-bit), `truth.npz` (true `rows`,
    `heights` and the generator's truth per frame and column) and `frames.json` (every parameter), atomically."""
    import tifffile

    folder = Path(folder)
    dtype = np.uint8 if frame_set.config.bits == 8 else np.uint16
    paths = [folder / FRAMES_FILE, folder / TRUTH_FILE, folder / MANIFEST_FILE]
    stack = io.BytesIO()  # tifffile needs a named or in-memory file
    tifffile.imwrite(stack, frame_set.frames.astype(dtype))
    atomic_write(paths[0], lambda f: f.write(stack.getvalue()))
    atomic_write(paths[1], lambda f: np.savez(f, rows=frame_set.rows, heights=frame_set.heights, **frame_set.truth))
    manifest = {**frame_set.manifest(), "seed": int(seed)}
    atomic_write_text(paths[2], json.dumps(manifest, indent=2))
    return paths


def generate_frames(scene: Scene, geometry: Geometry, config: GeneratorConfig, seed: int,
                    folder: Path) -> tuple[FrameSet, list[Path]]:
    """`render_frames`, then `save_frames` into `folder`."""
    frame_set = render_frames(scene, geometry, config, seed)
    return frame_set, save_frames(frame_set, seed, folder)

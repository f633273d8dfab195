"""`workbench generate`: write a dataset (.npz + JSON manifest) from a named preset, or camera frames of a scene."""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.data.datasets import DEFAULT_DATA_DIR, load_or_generate
from workbench.data.frames import SCENES, Geometry, Scene, generate_frames
from workbench.data.signals import PRESETS, GeneratorConfig, preset

GEOMETRY_OPTIONS = (("baseline", "baseline_mm", "laser-to-camera baseline, mm"),
                    ("angle", "angle_deg", "triangulation angle, degrees"),
                    ("pitch", "pixel_pitch_um", "pixel pitch, µm"),
                    ("magnification", "magnification", "lens magnification at the working distance"),
                    ("columns", "columns", "frame width in columns (one profile each)"),
                    ("reference-row", "reference_row", "row where the reference plane z = 0 is imaged"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `generate` parser."""
    parser = subparsers.add_parser(
        "generate", help="write a dataset of laser-line profiles (.npz + manifest), or frames of a scene",
        description="Generate seeded laser-line profiles from a named preset and save them with a JSON "
                    "manifest (parameters, seed, content hash). An existing valid file is reused; a "
                    "missing, stale or damaged one is regenerated. With --frames: camera frames of a "
                    "laser sheet over a scene in a triangulation geometry (frames.tif, truth.npz with the "
                    "true line row and height per column, frames.json), noise from the preset.")
    parser.add_argument("--preset", default="mixed", help=f"condition preset, one of: {', '.join(PRESETS)}")
    parser.add_argument("-n", "--count", type=int, default=None,
                        help="number of profiles (default 10000), or of frames with --frames (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--length", type=int, default=None,
                        help="profile length L, 64..2048 (default 256; with --frames the frame height)")
    parser.add_argument("--bits", type=int, default=None, help="sensor depth: 8, 10 or 12 (default 8)")
    parser.add_argument("--out", type=Path, default=None,
                        help="an .npz path or a folder (default data/datasets); with --frames a folder "
                             "(default data/frames/<scene>-s<seed>)")
    frames = parser.add_argument_group("frames (with --frames; defaults in docs/frames.md)")
    frames.add_argument("--frames", action="store_true", help="write camera frames of a scene instead of profiles")
    frames.add_argument("--scene", default="steps", help=f"height map: {', '.join(SCENES)} (default steps)")
    frames.add_argument("--height", type=float, default=None, help="the scene's tallest point, mm")
    frames.add_argument("--scan-step", type=float, default=None, help="scan step between frames, mm")
    for flag, _, text in GEOMETRY_OPTIONS:
        frames.add_argument(f"--{flag}", type=float, default=None, help=text)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or reuse) the dataset, or render the frames, and print where they are."""
    overrides = {k: v for k, v in (("length", args.length), ("bits", args.bits)) if v is not None}
    if args.frames:
        return _frames(args, preset(args.preset, **{k: v for k, v in overrides.items() if k == "bits"}))
    config = preset(args.preset, **overrides)
    out = DEFAULT_DATA_DIR if args.out is None else args.out
    count = 10_000 if args.count is None else args.count
    dataset = load_or_generate(config, args.seed, count, out, condition=args.preset)
    print(f"{dataset.path}  ({len(dataset)} profiles x {dataset.profiles.shape[1]} px, "
          f"sha256 {dataset.manifest['sha256'][:16]})")
    return 0


def _frames(args: argparse.Namespace, config: GeneratorConfig) -> int:
    """Render and save the frames of `--scene`, noise from `config`."""
    geometry = {field: getattr(args, flag.replace("-", "_")) for flag, field, _ in GEOMETRY_OPTIONS}
    geometry["rows"] = args.length
    geometry = {k: (int(v) if k in ("rows", "columns") else v) for k, v in geometry.items() if v is not None}
    scene = {k: v for k, v in (("height_mm", args.height), ("scan_step_mm", args.scan_step),
                               ("frames", args.count)) if v is not None}
    out = DEFAULT_DATA_DIR.parent / "frames" / f"{args.scene}-s{args.seed}" if args.out is None else args.out
    frame_set, paths = generate_frames(Scene(args.scene, **scene), Geometry(**geometry), config, args.seed, out)
    print(f"{paths[0]}  ({frame_set.frames.shape[0]} frames of {frame_set.frames.shape[1]} x "
          f"{frame_set.frames.shape[2]} px, heights 0..{frame_set.heights.max():.3g} mm) + {paths[1].name}, "
          f"{paths[2].name}")
    return 0

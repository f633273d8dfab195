"""`workbench detect`: apply any detector to the user's profiles, frames or images; CSV and overlays."""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.data.user_data import ORIENTATIONS, STANDARD_DEPTHS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `detect` parser."""
    parser = subparsers.add_parser(
        "detect", help="find the laser line in your own profiles or camera frames (CSV + overlays)",
        description="Apply a detector (a classical method by name, a .keras network, a qnn-int/1 "
                    "document run on the golden model, or a qnn-int/2 hybrid document) to .npy/.npz/.csv arrays or to 8-/16-bit PNG and "
                    "TIFF images (a file, a TIFF stack or a folder). Writes positions.csv (frame, source, "
                    "column or row, found, position_px) and, for images, overlays/*.png into --out.")
    parser.add_argument("input", type=Path, help="a .npy/.npz/.csv array, a .png/.tif image or stack, or a folder of images")
    parser.add_argument("--detector", required=True,
                        help="a classical method (argmax, cog, br8, ...), a .keras model or a qnn-int .json document")
    parser.add_argument("--window", type=float, default=None, help="the classical method's window")
    parser.add_argument("--threshold", type=float, default=None,
                        help="detection threshold on the detector's score (default: the document's for a "
                             "qnn-int network, none otherwise: every profile reports its peak)")
    parser.add_argument("--along", default=None,
                        help=f"{' or '.join(ORIENTATIONS)}: profiles along image columns (default for "
                             "images, as the hardware streams) or rows (default for arrays, the (N, L) layout)")
    parser.add_argument("--depth", type=int, default=None,
                        help=f"the data's significant bits, one of {list(STANDARD_DEPTHS)} (default: the "
                             "image's 8 or 16, or the smallest depth holding an array's values)")
    parser.add_argument("--rescale", action="store_true",
                        help="shift the values from the data's depth to the network's input depth")
    parser.add_argument("--no-overlays", dest="overlays", action="store_false", help="skip the overlay PNGs")
    parser.add_argument("--out", type=Path, default=Path("detect"), help="output folder (default ./detect)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Detect and write the files; print a one-line summary."""
    from workbench.evaluation.line_detection import DetectRequest, detect_files

    detections, written = detect_files(DetectRequest(
        args.input, args.detector, args.out, args.window, args.threshold, args.along, args.depth, args.rescale,
        args.overlays))
    print(f"{int(detections.found.sum())} of {detections.found.size} profiles with a line in "
          f"{len(detections.frames.sources)} frame(s) -> {written[0]} (+{len(written) - 1} overlays)")
    return 0

"""`workbench generate`: write a dataset (.npz + JSON manifest) from a named preset."""
from __future__ import annotations

import argparse
from pathlib import Path

from workbench.data.datasets import DEFAULT_DATA_DIR, load_or_generate
from workbench.data.signals import PRESETS, preset


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `generate` parser."""
    parser = subparsers.add_parser(
        "generate", help="write a dataset of laser-line profiles (.npz + manifest)",
        description="Generate seeded laser-line profiles from a named preset and save them with a JSON "
                    "manifest (parameters, seed, content hash). An existing valid file is reused; a "
                    "missing, stale or damaged one is regenerated.")
    parser.add_argument("--preset", default="mixed", help=f"condition preset, one of: {', '.join(PRESETS)}")
    parser.add_argument("-n", "--count", type=int, default=10_000, help="number of profiles (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--length", type=int, default=None, help="profile length L, 64..2048 (default 256)")
    parser.add_argument("--bits", type=int, default=None, help="sensor depth: 8, 10 or 12 (default 8)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DATA_DIR,
                        help="an .npz path or a folder (default data/datasets)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or reuse) the dataset and print where it is."""
    overrides = {k: v for k, v in (("length", args.length), ("bits", args.bits)) if v is not None}
    config = preset(args.preset, **overrides)
    dataset = load_or_generate(config, args.seed, args.count, args.out, condition=args.preset)
    print(f"{dataset.path}  ({len(dataset)} profiles x {dataset.profiles.shape[1]} px, "
          f"sha256 {dataset.manifest['sha256'][:16]})")
    return 0

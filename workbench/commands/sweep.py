"""`workbench sweep`: train and evaluate quantized networks over a grid of settings and seeds on Dask.

    workbench sweep sweep.toml --out sweeps/bits              # a LocalCluster sized to this machine
    workbench sweep sweep.toml --out sweeps/bits --scheduler tcp://head:8786   # an existing cluster

The spec (TOML) is validated before any task runs; finished tasks are cached under OUT/tasks/ and
skipped on the next run. Writes OUT/runs.csv (one row per configuration and seed) and OUT/summary.csv
(mean, standard deviation, min and max across seeds). See docs/sweeps.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sweep` sub-command."""
    parser = subparsers.add_parser("sweep", help="train and evaluate networks over a grid of settings and seeds",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="sweep spec (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (tasks/, runs.csv, summary.csv)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://HOST:PORT); "
                                                          "default: a LocalCluster on this machine")
    parser.add_argument("--workers", type=int, default=None,
                        help="LocalCluster worker processes (default: cores // --tf-threads)")
    parser.add_argument("--tf-threads", type=int, default=1, help="TensorFlow threads per task (default 1)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="dataset cache, shared by the workers (default data/datasets)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the sweep and print where its tables are."""
    from workbench.data.datasets import DEFAULT_DATA_DIR
    from workbench.pipeline.sweep import run_sweep

    result = run_sweep(args.spec, args.out, args.data_dir or DEFAULT_DATA_DIR, scheduler=args.scheduler,
                       workers=args.workers, tf_threads=args.tf_threads)
    print(f"{result.computed} tasks computed, {result.cached} cached; wrote {result.runs} and {result.summary}")
    return 0

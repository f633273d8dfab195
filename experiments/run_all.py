#!/usr/bin/env python3
"""Reproduce every table and figure of the study into one results folder.

    python experiments/run_all.py            # quick mode (default)
    python experiments/run_all.py --study    # every network at 3 training seeds (about 90 minutes)
    python experiments/run_all.py --full     # paper-scale sweep
    python experiments/run_all.py --stages classical --out results/mine

Each stage caches its outputs under `data/cache/stages/`, keyed by its settings, its code and its
inputs, so a second run with nothing changed finishes in seconds and an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from workbench.errors import WorkbenchError  # noqa: E402
from workbench.pipeline.stages import RunConfig, assemble_results, order_stages, run_stages  # noqa: E402

# Stage modules in run order; each defines STAGE (a workbench.pipeline.stages.Stage).
STAGE_MODULES = ("datasets", "classical", "training", "hybrids", "myhdl", "hdl", "benchmarks", "range_maps", "report")


def available_stages() -> list:
    """Every stage whose module exists, in run order."""
    stages = []
    for name in STAGE_MODULES:
        try:
            module = importlib.import_module(f"experiments.stages.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"experiments.stages.{name}":
                raise
            continue
        stages.append(module.STAGE)
    return stages


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sets, few epochs, lanes 1 and 4 (default; budgeted at 15 minutes on 2 cores, "
                           "over it today: REPORT.md lists each stage's seconds)")
    mode.add_argument("--study", dest="mode", action="store_const", const="study",
                      help="every network at 3 training seeds as cached Dask tasks, goals judged over the seeds "
                           "(about 90 minutes on 2 cores)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the paper-scale sweep, one seed (hours)")
    parser.set_defaults(mode="quick")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: a new folder under results/, linked as results/latest)")
    parser.add_argument("--stages", default=None,
                        help="comma-separated stages to run (their dependencies run or load from cache)")
    parser.add_argument("--seed", type=int, default=2023, help="base seed of every dataset and training run")
    parser.add_argument("--lockbox", action="store_true",
                        help="test on the lockbox seeds (final studies only; every use is logged in the report); "
                             "without it the test sets come from the development seeds")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "cache" / "stages",
                        help="stage cache folder")
    return parser.parse_args(argv)


def make_logger(log_file: Path) -> logging.Logger:
    log = logging.getLogger("run_all")
    log.setLevel(logging.INFO)
    log.handlers.clear()
    log.propagate = False  # TensorFlow installs a root handler: do not print every line twice
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    for handler in (logging.StreamHandler(sys.stdout), logging.FileHandler(log_file)):
        handler.setFormatter(fmt)
        log.addHandler(handler)
    return log


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "results" / f"{stamp}-{args.mode}"
    out.mkdir(parents=True, exist_ok=True)
    log = make_logger(out / "run_all.log")
    config = RunConfig(mode=args.mode, seed=args.seed, lockbox=args.lockbox)
    try:
        selected = args.stages.split(",") if args.stages else None
        stages = order_stages(available_stages(), selected)
        log.info("run_all %s mode, seed %d, %s test seeds, stages %s -> %s", args.mode, args.seed,
                 "LOCKBOX" if args.lockbox else "development", [s.name for s in stages], out)
        outputs = run_stages(stages, config, args.cache, log)
    except WorkbenchError as exc:
        log.error("run_all: error: %s", exc)
        return 2
    assemble_results(outputs, out)
    if args.out is None:
        latest = ROOT / "results" / "latest"
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(out.name)
    log.info("results in %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

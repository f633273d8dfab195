"""`workbench evaluate`: classical detectors and networks, tuned on validation data, evaluated on datasets."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` parser."""
    parser = subparsers.add_parser(
        "evaluate", help="run classical detectors and networks on datasets, write CSV and figures",
        description="Tune each classical detector on a validation set (threshold for 1% false alarms "
                    "on its empty profiles, window by validation loss), put the --models networks beside "
                    "them, evaluate every detector on every test dataset (one condition each) and write "
                    "accuracy.csv, s_curve.csv, choices.json and figures into --out.")
    parser.add_argument("data", nargs="+", type=Path, help="test dataset(s): .npz files written by `generate`")
    parser.add_argument("--validation", type=Path, default=None,
                        help="validation .npz (default: generated from the first test set's parameters "
                             "with a seed disjoint from it)")
    parser.add_argument("--methods", default="all",
                        help="comma-separated classical methods, 'all' (default) or 'none'")
    parser.add_argument("--models", nargs="+", type=Path, default=[],
                        help=".keras models and qnn-int .json documents to evaluate beside the classical methods")
    parser.add_argument("--recalibrate", action="store_true",
                        help="set the documents' thresholds on the validation set (default: each document's "
                             "own; a .keras model's is always set there)")
    parser.add_argument("--out", type=Path, default=Path("evaluation"), help="output folder (default ./evaluation)")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap draws for the RMSE interval")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compare the detectors and write the files."""
    from workbench.evaluation.dataset_comparison import CompareRequest, compare_on_datasets, parse_methods

    rows = compare_on_datasets(CompareRequest(
        tuple(args.data), args.out, args.validation, parse_methods(args.methods), tuple(args.models),
        args.recalibrate, args.draws, args.seed))
    print(f"{len(rows)} rows -> {args.out / 'accuracy.csv'}")
    return 0

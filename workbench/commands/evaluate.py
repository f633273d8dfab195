"""`workbench evaluate`: tune classical detectors on validation data, evaluate them on datasets."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` parser."""
    parser = subparsers.add_parser(
        "evaluate", help="run classical detectors on datasets, write CSV and figures",
        description="Tune each classical detector on a validation set (threshold for 1% false alarms "
                    "on its empty profiles, window by validation loss), evaluate it on every test "
                    "dataset (one condition each) and write accuracy.csv, s_curve.csv, "
                    "choices.json and figures into --out.")
    parser.add_argument("data", nargs="+", type=Path, help="test dataset(s): .npz files written by `generate`")
    parser.add_argument("--validation", type=Path, default=None,
                        help="validation .npz (default: generated from the first test set's parameters "
                             "with a seed disjoint from it)")
    parser.add_argument("--methods", default="all", help="comma-separated classical methods (default all)")
    parser.add_argument("--out", type=Path, default=Path("evaluation"), help="output folder (default ./evaluation)")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap draws for the RMSE interval")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load or regenerate the datasets, tune, evaluate, write the files."""
    from workbench.detectors import classical
    from workbench.evaluation import plots
    from workbench.data.datasets import load_or_generate, regenerate_from_manifest, split_seed
    from workbench.evaluation.comparison import DEFAULT_REFERENCE
    from workbench.evaluation.tables import S_CURVE_COLUMNS, evaluate, write_csv

    names = list(classical.METHODS) if args.methods == "all" else args.methods.split(",")
    for name in names:
        classical.method(name)
    if args.draws < 1:
        raise ConfigError(f"--draws {args.draws} invalid; allowed >= 1")
    tests = [regenerate_from_manifest(path) for path in args.data]
    test_sets = {}
    for path, dataset in zip(args.data, tests):
        test_sets[dataset.condition if dataset.condition not in test_sets else path.stem] = dataset
    if args.validation is not None:
        validation = regenerate_from_manifest(args.validation)
    else:
        first = tests[0]
        seed = split_seed(first.manifest["seed"], "val", first.condition)
        validation = load_or_generate(first.config, seed, max(len(first), 2000), first.path.parent,
                                      condition=f"{first.condition}-val")
    tuned = classical.tune_all(names, validation)
    detectors = [det for det, _ in tuned]
    reference = next((det for det, name in zip(detectors, names) if name == DEFAULT_REFERENCE), None)
    rows, curves = evaluate(detectors, test_sets, seed=args.seed, draws=args.draws,
                            s_curve_conditions=tuple(test_sets), reference=reference)
    out = args.out
    write_csv(rows, out / "accuracy.csv")
    write_csv(curves, out / "s_curve.csv", S_CURVE_COLUMNS)
    (out / "choices.json").write_text(json.dumps({n: rec for n, (_, rec) in zip(names, tuned)}, indent=2))
    plots.plot_metric_vs_snr(rows, "rmse_px", out / "rmse_vs_snr.png", "sub-pixel RMSE (px)",
                             "Sub-pixel RMSE against SNR", ci=("rmse_ci_low", "rmse_ci_high"))
    plots.plot_metric_vs_snr(rows, "gross_error_rate", out / "gross_error_vs_snr.png",
                             "gross-error rate", "Gross errors against SNR")
    for condition in test_sets:
        plots.plot_s_curves([c for c in curves if c["condition"] == condition], out / f"s_curve_{condition}.png",
                            f"Bias against sub-pixel phase ({condition})")
    first = next(iter(test_sets.values()))
    line = (~first.truth["empty"]).nonzero()[0][:4]
    plots.plot_examples(first.profiles[line], first.truth["centre"][line],
                        {d.name: d.detect(first.profiles[line]) for d in detectors}, out / "examples.png")
    print(f"{len(rows)} rows -> {out / 'accuracy.csv'}")
    return 0

#!/usr/bin/env python3
"""The streaming integer BR8 (`workbench.qnn.br8_integer`) beside the float BR8, on VALIDATION data only.

Every detector is tuned on the `mixed` validation set (the float BR8 by `classical.tune`, the integer
variants by `br8_integer.tune`: an integer threshold for 1 % false alarms) and evaluated on each
same-depth per-condition validation set, paired with the float BR8 (`workbench.evaluation.tables.evaluate`).
No test set is read.

    python experiments/compare_br_integer.py --datasets data/cache/stages/datasets/<key> --out results/br_integer.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.data.datasets import load_stage_splits  # noqa: E402
from workbench.detectors import classical  # noqa: E402
from workbench.evaluation.tables import evaluate, write_csv  # noqa: E402
from workbench.qnn import br8_integer  # noqa: E402

COLUMNS = ("method", "condition", "n", "rmse_px", "efficiency", "miss_rate", "false_alarm_rate",
           "gross_error_rate", "total_error", "rmse_ratio", "rmse_ratio_ci_low", "rmse_ratio_ci_high", "threshold")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", required=True, help="a run_all datasets stage folder (datasets.json)")
    parser.add_argument("--out", required=True, help="CSV of the accuracy rows")
    parser.add_argument("--draws", type=int, default=200, help="bootstrap draws of the intervals")
    parser.add_argument("--conditions", default="", help="comma-separated validation conditions (default: all same-depth)")
    args = parser.parse_args(argv)
    splits = load_stage_splits(args.datasets)
    float_br8, _ = classical.tune("br8", splits.val)
    integer = [br8_integer.detector(br8_integer.tune(br8_integer.BRInteger(score=s), splits.val),
                                    f"{br8_integer.NAME}_{s}") for s in br8_integer.SCORES]
    wanted = [c for c in args.conditions.split(",") if c]
    sets = {name: ds for name, ds in splits.val_by_condition.items()
            if ds.config.bits == splits.val.config.bits and (not wanted or name in wanted)}
    detectors = [float_br8, *integer]
    rows, _ = evaluate(detectors, sets, draws=args.draws, reference=float_br8)
    thresholds = {d.name: d.threshold for d in detectors}
    rows = [{**row, "threshold": thresholds[row["method"]]} for row in rows]
    write_csv(rows, Path(args.out), COLUMNS)
    for row in rows:
        print(" ".join(f"{row.get(c)}" if not isinstance(row.get(c), float) else f"{row[c]:.4g}" for c in COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

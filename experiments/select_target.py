#!/usr/bin/env python3
"""Choose the score target and its width on VALIDATION data (the numbers in docs/training.md).

    python experiments/select_target.py --train 10000 --val 4000 --epochs 8 --out results/target_selection.csv

For each candidate target (and weight of the head-vertex loss term), trains the float network and the 4/4 QAT network with the same budget,
sets each threshold for 1% false alarms on the empty validation profiles and reports, on the
validation line profiles, the sub-pixel RMSE, gross-error and miss rates and the largest |S-curve|
bias. No test data is read.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from workbench.data import datasets, signals  # noqa: E402

from workbench.nn import training
from workbench.evaluation.tables import write_csv  # noqa: E402
from workbench.evaluation.metrics import compute_metrics, s_curve  # noqa: E402
from workbench.nn.models import default_spec  # noqa: E402
from workbench.nn.detectors import calibrated_export, calibrated_float  # noqa: E402

CANDIDATES = (("parabola", 2.0, "unit", 0.0), ("parabola", 3.0, "unit", 0.0), ("gaussian", 1.0, "unit", 0.0),
              ("gaussian", 1.5, "unit", 0.0), ("triangle", 2.0, "unit", 0.0), ("parabola", 2.0, "amplitude", 0.0),
              ("parabola", 2.0, "unit", 0.1), ("parabola", 2.0, "unit", 0.3), ("parabola", 2.0, "unit", 1.0))
"""(target, width in px, height, weight of the head-vertex loss term on lines of SNR >= 8; 0 = MSE only)"""
COLUMNS = ("target", "width", "height", "position_weight", "network", "rmse_px", "rmse_ci_low", "rmse_ci_high", "gross_error_rate", "miss_rate",
           "max_abs_s_curve_px", "best_val_loss")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--val", type=int, default=4_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "target_selection.csv")
    parser.add_argument("--only", type=int, nargs="*", default=None, help="indices of CANDIDATES to run")
    args = parser.parse_args()
    generator = signals.preset("mixed")
    sets = {split: datasets.load_or_generate(generator, datasets.split_seed(args.seed, split, "mixed"), n,
                                             condition="mixed")
            for split, n in (("train", args.train), ("val", args.val))}
    val = sets["val"]
    empty_val = val.profiles[val.truth["empty"]]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        chosen = [CANDIDATES[i] for i in args.only] if args.only is not None else CANDIDATES
        for target, width, height, position_weight in chosen:
            config = training.TrainConfig(epochs=args.epochs, finetune_epochs=2, target=target, target_width=width,
                                          target_height=height, position_weight=position_weight, seed=args.seed)
            train_data = training.training_data(sets["train"].profiles, sets["train"].truth, config,
                                                generator.full_scale)
            val_data = training.training_data(val.profiles, val.truth, config, generator.full_scale)
            for network in ("float", "4/4"):
                spec = default_spec("4/4")
                if network == "float":
                    trained = training.train_float(spec, train_data, val_data, config, folder, progress=print)
                    detector = calibrated_float("float", trained.model, empty_val)
                else:
                    trained = training.train_qat(spec, train_data, val_data, config, folder, progress=print)
                    _, detector = calibrated_export("qat", trained.model, empty_val, "4/4")
                found, pos = detector.detect(val.profiles)
                metrics = compute_metrics(found, pos, val.truth["centre"], val.truth["empty"])
                _, bias, _ = s_curve(found, pos, val.truth["centre"], val.truth["empty"], bins=10)
                best = list(trained.log["phases"].values())[-1]["best_val_loss"]
                rows.append({"target": target, "width": width, "height": height,
                             "position_weight": position_weight, "network": network, **metrics.as_dict(),
                             "max_abs_s_curve_px": float(np.nanmax(np.abs(bias))), "best_val_loss": best})
                print(rows[-1])
    write_csv(rows, args.out, COLUMNS)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

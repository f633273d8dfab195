"""Stage `datasets`: the benchmark's train / validation / test sets (disjoint seeds from the run seed).

Besides the training validation set (`mixed`) it makes a validation set per test condition, so that
per-condition choices are made on validation data. Test sets come from the development seeds, or from
the lockbox seeds when the run asks for them (`run_all.py --lockbox`, final studies only).

The arrays live in `data/cache/datasets/` (next to the stage cache); the stage folder holds
`datasets.json`, the index read by `workbench.data.datasets.load_stage_splits`, and a summary table.
"""
from __future__ import annotations

import numpy as np

from workbench.data.datasets import Dataset, benchmark_splits, write_split_index
from workbench.evaluation.tables import write_csv
from workbench.pipeline.stages import Stage, StageContext

SUMMARY_COLUMNS = ("split", "condition", "seed", "n", "length", "bits", "empty_share", "saturated_share",
                   "reflection_share", "snr_median")


def _summary(split: str, dataset: Dataset) -> dict:
    truth = dataset.truth
    line = ~truth["empty"]
    return {"split": split, "condition": dataset.condition, "seed": dataset.manifest["seed"], "n": len(dataset),
            "length": dataset.profiles.shape[1], "bits": dataset.manifest["config"]["bits"],
            "empty_share": float(truth["empty"].mean()), "saturated_share": float(truth["saturated"][line].mean()),
            "reflection_share": float(truth["reflection"][line].mean()),
            "snr_median": float(np.median(truth["snr"][line]))}


def run(ctx: StageContext) -> None:
    sizes = {key: ctx.settings[key] for key in ("train", "val", "test", "val_condition")}
    test_split = "lockbox" if ctx.config.lockbox else "test"
    splits = benchmark_splits(ctx.config.seed, sizes, ctx.cache_root.parent / "datasets", test_split=test_split)
    write_split_index(splits, ctx.out)
    rows = [_summary("train", splits.train), _summary("val", splits.val)]
    rows += [_summary(test_split, ds) for ds in splits.test.values()]
    rows += [_summary("val_condition", ds) for ds in splits.val_by_condition.values()]
    write_csv(rows, ctx.out / "tables" / "datasets.csv", SUMMARY_COLUMNS)
    ctx.log.info("datasets: train %d, val %d, %d test conditions x %d (%s seeds), validation x %d each",
                 sizes["train"], sizes["val"], len(splits.test), sizes["test"], test_split, sizes["val_condition"])


STAGE = Stage(
    name="datasets",
    run=run,
    description="generate the benchmark splits",
    settings={"quick": {"train": 20_000, "val": 8_000, "test": 2_000, "val_condition": 2_000},
              "study": {"train": 20_000, "val": 10_000, "test": 10_000, "val_condition": 5_000},
              "full": {"train": 200_000, "val": 50_000, "test": 20_000, "val_condition": 20_000}},
)

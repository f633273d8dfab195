"""run_all's study mode on a tiny configuration: networks at 3 training seeds as cached Dask tasks, tables
per seed, pooled over seeds and with the spread across seeds; a second run computes nothing."""
from __future__ import annotations

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from experiments.stages import training as stage  # noqa: E402
from workbench.data.datasets import benchmark_splits, write_split_index  # noqa: E402
from workbench.evaluation.tables import read_csv  # noqa: E402
from workbench.pipeline.stages import RunConfig, StageContext  # noqa: E402

CONDITIONS = ("mixed", "snr_16", "snr_64")
TINY = {"seeds": 3, "train_profiles": None, "val_profiles": None, "test_profiles": None, "epochs": 1,
        "finetune_epochs": 0, "patience": 1, "batch_size": 64, "topology": "c2k3,c1k3", "bits": ["4/4"],
        "tflite_sizes": [10], "ablation_bits": ["4/4"], "ablation_modes": ["learned"],
        "ablation_conditions": ["mixed"], "bitexact_profiles": 50, "draws": 200, "workers": 2}


def _run(tmp_path, out_name: str, caplog) -> tuple:
    datasets = tmp_path / "datasets"
    if not datasets.is_dir():
        datasets.mkdir()
        splits = benchmark_splits(5, {"train": 300, "val": 600, "test": 300}, tmp_path / "data",
                                  conditions=CONDITIONS, length=64)
        write_split_index(splits, datasets)
    out = tmp_path / out_name
    out.mkdir()
    log = logging.getLogger("test_study")
    ctx = StageContext("training", out, {"datasets": datasets}, RunConfig("study", 7), TINY, log,
                       tmp_path / "cache" / "stages")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test_study"):
        stage.run(ctx)
    computed = [r.getMessage() for r in caplog.records if "study tasks:" in r.getMessage()]
    return out / "tables", computed


def test_study_mode_tables_per_seed_pooled_and_spread_then_all_from_the_cache(tmp_path, caplog):
    tables, computed = _run(tmp_path, "first", caplog)
    assert computed == ["  study tasks: 6 computed, 0 from the cache"]  # float and 4/4, 3 seeds each
    seeds = read_csv(tables / "seeds_nn.csv")
    methods = {(r["method"], r["bits"]) for r in seeds}
    assert methods == {("nn_float", None), ("nn_qat", "4/4"), ("tflite_int8_cal10", "8/8")}
    for method, bits in methods:
        for condition in CONDITIONS:
            rows = [r for r in seeds if (r["method"], r["bits"], r["condition"]) == (method, bits, condition)]
            assert sorted(r["seed"] for r in rows) == [7, 8, 9]
            assert all(r["n"] == 300 and r["reference"] == "br8" for r in rows)
    spread = read_csv(tables / "seed_spread_nn.csv")
    assert len(spread) == 3 * len(CONDITIONS) and all(r["seeds"] == 3 for r in spread)
    pooled = read_csv(tables / "accuracy_nn.csv")
    assert len(pooled) == len(spread)
    for row in spread:
        values = [r["miss_rate"] for r in seeds
                  if (r["method"], r["bits"], r["condition"]) == (row["method"], row["bits"], row["condition"])]
        assert row["miss_rate_mean"] == pytest.approx(np.mean(values), rel=1e-5, abs=1e-9)
        assert row["miss_rate_std"] == pytest.approx(np.std(values, ddof=1), rel=1e-4, abs=1e-9)
        assert (row["miss_rate_min"], row["miss_rate_max"]) == (min(values), max(values))
        match = next(p for p in pooled if (p["method"], p["bits"], p["condition"]) ==
                     (row["method"], row["bits"], row["condition"]))
        assert match["miss_rate"] == pytest.approx(row["miss_rate_mean"], rel=1e-5, abs=1e-9)
        rmse = [r["rmse_px"] for r in seeds
                if (r["method"], r["bits"], r["condition"]) == (row["method"], row["bits"], row["condition"])]
        if not all(np.isnan(rmse)):  # a seed that finds no line within 1 px is left out of the pooled RMSE
            assert match["rmse_px"] == pytest.approx(np.sqrt(np.nanmean(np.square(rmse))), rel=1e-4)
            assert match["rmse_ci_low"] <= match["rmse_px"] <= match["rmse_ci_high"]
    assert sorted(r["seed"] for r in read_csv(tables / "training.csv")) == [7, 7, 8, 8, 9, 9]
    bitexact = read_csv(tables / "bitexact_keras.csv")
    assert len(bitexact) == 3 and all(r["compared"] == 50 * 64 and r["mismatches"] == 0 for r in bitexact)
    assert {r["scale_mode"] for r in read_csv(tables / "ablation.csv")} == {"learned"}
    models = tables.parent / "models"
    assert (models / "qat_4-4.json").is_file() and (models / "seed_9" / "float.keras").is_file()
    assert "RMSE ratio to the reference" in (tables.parent / "report" / "seeds.md").read_text()
    first = {name: (tables / name).read_text() for name in ("seeds_nn.csv", "accuracy_nn.csv", "seed_spread_nn.csv")}

    tables, computed = _run(tmp_path, "second", caplog)
    assert computed == ["  study tasks: 0 computed, 6 from the cache"]
    assert {name: (tables / name).read_text() for name in first} == first

"""run_all's study mode on a tiny configuration: networks at 3 training seeds as cached Dask tasks, tables
per seed, pooled over seeds and with the spread across seeds; a second run computes nothing."""
from __future__ import annotations

import json
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from experiments.stages import training as stage  # noqa: E402
from workbench.data.datasets import INDEX_FILE, benchmark_splits, write_split_index  # noqa: E402
from workbench.detectors import classical  # noqa: E402
from workbench.errors import WorkbenchError  # noqa: E402
from workbench.evaluation.comparison import DEFAULT_REFERENCE  # noqa: E402
from workbench.evaluation.tables import (ACCURACY_COLUMNS, accuracy_row, read_csv, write_csv,  # noqa: E402
                                         yardstick)
from workbench.pipeline import study  # noqa: E402
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


FAMILY = {**TINY, "topology": "c8k7,c8k5,d8,c1k3", "bits": ["4/4", "2/2"], "ablation_modes": ["learned", "pow2"],
          "families": {"reach": "c4k11,c8k9,d8,c1k5"}}
INDEX = {"train": {"sha256": "a"}, "val": {"sha256": "b"}, "test": {"mixed": {"sha256": "c"}}}


def test_families_give_their_own_names_methods_topologies_and_keys_and_leave_the_default_unchanged() -> None:
    tasks = study.study_tasks(FAMILY, [7, 8], INDEX)
    names = [(t.network.name, t.network.method, t.network.bits, t.network.family, t.network.topology, t.seed)
             for t in tasks]
    default, reach = "c8k7,c8k5,d8,c1k3", "c4k11,c8k9,d8,c1k5"
    assert names == [(name, method, bits, family, topology, seed) for name, method, bits, family, topology in [
        ("float", "nn_float", "8/8", "", default), ("qat_4-4", "nn_qat", "4/4", "", default),
        ("qat_2-2", "nn_qat", "2/2", "", default), ("qat_4-4_reach", "nn_qat_reach", "4/4", "reach", reach),
        ("qat_2-2_reach", "nn_qat_reach", "2/2", "reach", reach), ("qat_4-4_pow2", "qat_4-4_pow2", "4/4", "", default)]
        for seed in (7, 8)]
    assert len({t.key for t in tasks}) == len(tasks) == 12
    without = study.study_tasks({k: v for k, v in FAMILY.items() if k != "families"}, [7, 8], INDEX)
    assert [t.key for t in without] == [t.key for t in tasks if not t.network.family]  # the family adds tasks only
    other = study.study_tasks({**FAMILY, "families": {"reach": "c4k9,c8k9,d8,c1k5"}}, [7, 8], INDEX)
    changed = [a.key != b.key for a, b in zip(tasks, other)]
    assert changed == [t.network.family == "reach" for t in tasks]  # its topology is in its tasks' keys only


@pytest.mark.parametrize("families, message", [
    ({"Reach": "c2k3"}, "network family name 'Reach' invalid; allowed a lowercase letter"),
    ({"pow2": "c2k3,c1k3"}, r"study networks \['qat_4-4_pow2'\] share a file name"),
    ({"reach": "c2x3"}, "topology 'c2x3'"),
])
def test_bad_families_raise_errors_naming_the_value(families: dict, message: str) -> None:
    with pytest.raises(WorkbenchError, match=message):
        study.study_networks({**FAMILY, "families": families})


def _fake_detections(dataset, seed: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Every line found, positions off the truth by seeded noise and `offset` (one per method)."""
    rng = np.random.default_rng(seed)
    found = ~np.asarray(dataset.truth["empty"], dtype=bool)
    pos = np.asarray(dataset.truth["centre"], dtype=float) + offset + rng.normal(0, 0.1, len(dataset))
    return found, pos


def test_study_pooling_names_the_family_rows_from_fake_cached_tasks(tmp_path, caplog) -> None:
    """The stage pools each family's tasks under its own method; fake finished tasks, nothing trained."""
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    splits = benchmark_splits(5, {"train": 300, "val": 600, "test": 300}, tmp_path / "data", conditions=CONDITIONS,
                              length=64)
    write_split_index(splits, datasets)
    settings = {**FAMILY, "bits": ["4/4"], "ablation_modes": ["learned"]}
    tasks = study.study_tasks(settings, [7, 8, 9], json.loads((datasets / INDEX_FILE).read_text()))
    offsets = {"nn_float": 0.0, "nn_qat": 0.05, "nn_qat_reach": -0.2}
    detections: dict[str, list] = {}
    for task in tasks:
        folder = tmp_path / "cache" / "tasks" / "study" / task.key
        (folder / study.DETECTIONS).mkdir(parents=True)
        method = task.network.method
        arrays = {}
        for condition, dataset in splits.test.items():
            found, pos = _fake_detections(dataset, task.seed, offsets[method])
            arrays[f"{condition}.found"], arrays[f"{condition}.pos"] = found, pos
            detections.setdefault(f"{method} {condition}", []).append((found, pos))
        np.savez(folder / study.DETECTIONS / f"{method}.npz", **arrays)
        training = {"model": task.network.name, "bits": task.network.table_bits, "epochs": 1, "best_epoch": 1,
                    "best_val_loss": 0.5, "seconds_per_epoch": 1.0, "seconds": 1.0, "seed": task.seed}
        (folder / "result.json").write_text(json.dumps({
            "network": task.network.name, "seed": task.seed, "key": task.key, "training": training, "bitexact": None,
            "methods": [{"method": method, "bits": task.network.table_bits, "threshold": 1.0}]}))
    out = tmp_path / "out"
    out.mkdir()
    ctx = StageContext("training", out, {"datasets": datasets}, RunConfig("study", 7), settings,
                       logging.getLogger("test_study"), tmp_path / "cache" / "stages")
    with caplog.at_level(logging.INFO, logger="test_study"):
        stage.run(ctx)
    assert "  study tasks: 0 computed, 9 from the cache" in [r.getMessage() for r in caplog.records]
    pooled = read_csv(out / "tables" / "accuracy_nn.csv")
    assert sorted({(r["method"], r["bits"]) for r in pooled}) == [("nn_float", None), ("nn_qat", "4/4"),
                                                                   ("nn_qat_reach", "4/4")]
    reference, _ = classical.tune(DEFAULT_REFERENCE, splits.val)
    want = [accuracy_row(row["method"], row["bits"], row["condition"],
                         detections[f"{row['method']} {row['condition']}"], splits.test[row["condition"]],
                         yardstick(splits.test[row["condition"]], reference), 7, TINY["draws"]) for row in pooled]
    want = read_csv(write_csv(want, tmp_path / "want.csv"))  # recomputed from the fake detections, as CSV holds them
    compared = 0
    for mine, theirs in zip(pooled, want):
        for column in ACCURACY_COLUMNS:
            nan = mine[column] != mine[column] and theirs[column] != theirs[column]
            assert mine[column] == theirs[column] or nan, (mine["method"], mine["condition"], column)
            compared += 1
    assert compared == 3 * len(CONDITIONS) * len(ACCURACY_COLUMNS)
    bias = {(r["method"], r["condition"]): r["bias_px"] for r in pooled}
    assert all(bias["nn_qat_reach", c] < -0.1 < 0.0 < bias["nn_qat", c] for c in CONDITIONS)  # not swapped
    seeds = read_csv(out / "tables" / "seeds_nn.csv")
    assert sorted(r["seed"] for r in seeds if r["method"] == "nn_qat_reach" and r["condition"] == "mixed") == [7, 8, 9]


def test_quick_mode_trains_the_default_family_only_and_study_and_full_add_reach() -> None:
    from workbench.nn.models import default_spec, parse_topology
    from workbench.pipeline.families import family_topologies

    quick = family_topologies(stage.SETTINGS["quick"])
    assert quick == {"": "c8k7,c8k5,d8,c1k3"}
    assert all(default_spec(bits, parse_topology(quick[""])) == default_spec(bits)  # the networks of before
               for bits in stage.SETTINGS["quick"]["bits"])
    for mode in ("study", "full"):
        assert list(family_topologies(stage.SETTINGS[mode]).items())[1:] == [("reach", "c4k11,c8k9,d8,c1k5")]

"""Dataset files: reuse, regeneration of missing / stale / truncated / corrupt files, splits, index."""
import json

import numpy as np
import pytest

from workbench.data import datasets
from workbench.data.datasets import benchmark_splits, load, load_or_generate, load_stage_splits, manifest_path
from workbench.errors import ConfigError, DatasetError
from workbench.data.signals import GeneratorConfig

CFG = GeneratorConfig(length=64)


def test_generate_then_reuse_without_regenerating(tmp_path, monkeypatch):
    first = load_or_generate(CFG, 3, 50, tmp_path, condition="mixed")
    assert first.path.exists() and manifest_path(first.path).exists()
    assert first.profiles.shape == (50, 64) and first.profiles.dtype == np.uint16
    assert first.manifest["sha256"] == datasets.content_hash(first.profiles, first.truth)
    monkeypatch.setattr(datasets.signals, "generate", lambda *a: pytest.fail("regenerated a valid file"))
    again = load_or_generate(CFG, 3, 50, tmp_path, condition="mixed")
    np.testing.assert_array_equal(again.profiles, first.profiles)


def _regenerates(path, damage):
    good = load_or_generate(CFG, 4, 40, path, condition="c")
    damage(path)
    with pytest.raises(DatasetError):
        load(path)
    fixed = load_or_generate(CFG, 4, 40, path, condition="c")
    np.testing.assert_array_equal(fixed.profiles, good.profiles)
    load(path)  # valid again


def test_truncated_file_is_regenerated(tmp_path):
    _regenerates(tmp_path / "d.npz", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]))


def test_missing_file_is_regenerated(tmp_path):
    _regenerates(tmp_path / "d.npz", lambda p: p.unlink())


def test_hash_mismatch_is_regenerated(tmp_path):
    def tamper(p):
        with np.load(p) as data:
            arrays = dict(data)
        arrays["profiles"] = arrays["profiles"].copy()
        arrays["profiles"][0, 0] += 1
        np.savez(p, **arrays)
    _regenerates(tmp_path / "d.npz", tamper)


def test_corrupt_manifest_is_regenerated(tmp_path):
    _regenerates(tmp_path / "d.npz", lambda p: manifest_path(p).write_text("{not json"))


def test_stale_manifest_parameters_regenerate(tmp_path):
    path = tmp_path / "d.npz"
    old = load_or_generate(CFG, 5, 30, path)
    new = load_or_generate(GeneratorConfig(length=64, bits=10), 5, 30, path)
    assert new.manifest["config"]["bits"] == 10 and new.profiles.max() > old.profiles.max()
    assert load_or_generate(GeneratorConfig(length=64, bits=10), 6, 30, path).manifest["seed"] == 6


def test_no_temporary_files_left_behind(tmp_path):
    load_or_generate(CFG, 1, 20, tmp_path)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npz"]


def test_load_missing_file_or_manifest_raises_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="dataset file .*nothing.npz' is missing"):
        load(tmp_path / "nothing.npz")
    path = load_or_generate(CFG, 1, 20, tmp_path / "d.npz").path
    manifest_path(path).unlink()
    with pytest.raises(DatasetError, match="dataset manifest .*d.json' is missing"):
        load(path)


def test_benchmark_splits_use_distinct_seeds_and_index_roundtrip(tmp_path):
    splits = benchmark_splits(7, {"train": 60, "val": 50, "test": 30}, tmp_path / "data",
                              conditions=("snr_4", "saturated"), length=64)
    seeds = [splits.train.manifest["seed"], splits.val.manifest["seed"],
             *(ds.manifest["seed"] for ds in splits.test.values())]
    assert len(set(seeds)) == len(seeds)
    assert not np.array_equal(splits.train.profiles[:30], splits.val.profiles[:30])
    assert set(splits.test) == {"snr_4", "saturated"}
    datasets.write_split_index(splits, tmp_path)
    again = load_stage_splits(tmp_path)
    np.testing.assert_array_equal(again.test["snr_4"].profiles, splits.test["snr_4"].profiles)
    splits.val.path.unlink()  # a lost file is regenerated to the recorded hash
    assert load_stage_splits(tmp_path).val.manifest["sha256"] == splits.val.manifest["sha256"]


def test_other_base_seed_other_data_and_bad_sizes(tmp_path):
    a = benchmark_splits(1, {"train": 20, "val": 20, "test": 20}, tmp_path, conditions=(), length=64)
    b = benchmark_splits(2, {"train": 20, "val": 20, "test": 20}, tmp_path, conditions=(), length=64)
    assert a.train.manifest["sha256"] != b.train.manifest["sha256"]
    with pytest.raises(ConfigError, match="split size val=0"):
        benchmark_splits(1, {"train": 20, "val": 0, "test": 20}, tmp_path)


def test_index_with_tampered_hash_is_rejected(tmp_path):
    splits = benchmark_splits(3, {"train": 20, "val": 20, "test": 20}, tmp_path, conditions=(), length=64)
    index_path = datasets.write_split_index(splits, tmp_path)
    index = json.loads(index_path.read_text())
    index["val"]["sha256"] = "0" * 64
    index_path.write_text(json.dumps(index))
    with pytest.raises(DatasetError, match="different hash"):
        load_stage_splits(tmp_path)


def test_lockbox_test_sets_and_validation_per_condition(tmp_path):
    sizes = {"train": 20, "val": 20, "test": 30, "val_condition": 25}
    conditions = ("snr_8", "sigma_3")
    dev = benchmark_splits(5, sizes, tmp_path, conditions=conditions, length=64)
    lockbox = benchmark_splits(5, sizes, tmp_path, conditions=conditions, test_split="lockbox", length=64)
    assert dev.test_split == "test" and lockbox.test_split == "lockbox"
    # development test seeds are those of before (namespace `test`); the lockbox's are others
    assert dev.test["snr_8"].manifest["seed"] == datasets.split_seed(5, "test", "snr_8")
    assert lockbox.train.manifest["sha256"] == dev.train.manifest["sha256"]
    seeds = {name: (dev.test[name].manifest["seed"], lockbox.test[name].manifest["seed"],
                    dev.val_by_condition[name].manifest["seed"]) for name in conditions}
    assert all(len(set(s)) == 3 for s in seeds.values())
    assert dev.test["snr_8"].manifest["sha256"] != lockbox.test["snr_8"].manifest["sha256"]
    assert set(dev.val_by_condition) == set(conditions) and len(dev.val_by_condition["sigma_3"]) == 25
    assert dev.val_by_condition["snr_8"].condition == "snr_8-val"
    datasets.write_split_index(lockbox, tmp_path)
    again = load_stage_splits(tmp_path)
    assert again.test_split == "lockbox" and set(again.val_by_condition) == set(conditions)
    assert again.test["sigma_3"].manifest["sha256"] == lockbox.test["sigma_3"].manifest["sha256"]
    with pytest.raises(ConfigError, match="test split 'final' unknown"):
        benchmark_splits(5, sizes, tmp_path, conditions=conditions, test_split="final")
    no_extra = benchmark_splits(5, {"train": 20, "val": 20, "test": 30}, tmp_path, conditions=conditions, length=64)
    assert no_extra.val_by_condition == {}

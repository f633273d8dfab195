"""Datasets on disk: `.npz` arrays plus a JSON manifest, reused when valid, regenerated otherwise.

Stable public names, used by training and hardware code as well:

- `Dataset.profiles`: uint16 array (N, L), the sensor values;
- `Dataset.truth`: dict of length-N arrays, keys `workbench.data.signals.TRUTH_KEYS`: `centre` (float px,
  NaN for empty profiles), `sigma`, `amplitude`, `snr`, and bool `saturated`, `reflection`, `empty`;
- `Dataset.manifest`: dict with `format`, `condition`, `config` (generator parameters), `seed`, `n`,
  `generator` (hash of the generator's source) and `sha256` (content hash of the arrays);
- `load_or_generate(config, seed, n, path_or_dir, condition=...)`, `load(path)`;
- `benchmark_splits(base_seed, sizes, data_dir, test_split=...)`: train / val (preset `mixed`), one test
  set per evaluation condition and, when `sizes` has `val_condition`, one validation set per condition,
  each from its own seed (all seeds distinct). Test seeds come from the development namespace `test`
  or, only when asked for, the lockbox namespace `lockbox` (`TEST_SPLITS`);
- `write_split_index(splits, folder)` / `load_stage_splits(folder)`: the run_all `datasets` stage's
  index file and its reader, returning the same `Splits`.

A manifest is written after its arrays, both atomically (temporary file, then rename), so it marks a
complete dataset. A file that is missing, truncated, corrupt, stale (other parameters, seed, size or
generator code) or whose content hash disagrees is regenerated and never used.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import signals
from workbench.data.signals import TRUTH_KEYS, GeneratorConfig
from workbench.errors import ConfigError, DatasetError
from workbench.files import atomic_write, atomic_write_text

FORMAT = "qpeak-dataset/1"
INDEX_FILE = "datasets.json"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "datasets"
TEST_CONDITIONS = ("mixed", *signals.SWEEP_CONDITIONS, "sigma_0.7", "sigma_1.5", "sigma_3",
                   "reflections", "no_reflections", "saturated", "unsaturated", "speckle",
                   *signals.ROBUSTNESS_CONDITIONS)
"""Test conditions of the benchmark (preset names); the `snr_*` ones form the SNR sweep, the last ones
(`signals.ROBUSTNESS_CONDITIONS`) lie outside the training distribution."""
TEST_SPLITS = ("test", "lockbox")
"""Seed namespaces of the test sets: `test` for development and quick runs, `lockbox` for final studies only."""

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    """Profiles, their ground truth and the manifest that describes how they were made."""

    profiles: np.ndarray
    truth: dict[str, np.ndarray]
    manifest: dict[str, Any]
    path: Path | None = None

    @property
    def condition(self) -> str:
        """The preset or condition name recorded in the manifest."""
        return str(self.manifest.get("condition", ""))

    @property
    def config(self) -> GeneratorConfig:
        """The generator parameters that made this dataset."""
        return GeneratorConfig.from_dict(self.manifest["config"])

    def __len__(self) -> int:
        return int(self.profiles.shape[0])

    def subset(self, index: np.ndarray | slice) -> Dataset:
        """A view on some profiles (same manifest, no path)."""
        return Dataset(self.profiles[index], {k: v[index] for k, v in self.truth.items()}, self.manifest)


@dataclass
class Splits:
    """The benchmark: training and validation sets, one test set per condition (from the seed namespace
    `test_split`) and, when made, one validation set per condition."""

    train: Dataset
    val: Dataset
    test: dict[str, Dataset]
    val_by_condition: dict[str, Dataset] = field(default_factory=dict)
    test_split: str = "test"


def generator_hash() -> str:
    """SHA-256 of the generator's source: a change to the model makes every stored dataset stale."""
    return hashlib.sha256(inspect.getsource(signals).encode()).hexdigest()[:16]


def content_hash(profiles: np.ndarray, truth: dict[str, np.ndarray]) -> str:
    """SHA-256 over the profiles and every truth array (dtype, shape and bytes)."""
    digest = hashlib.sha256()
    for name, array in [("profiles", profiles), *((k, truth[k]) for k in TRUTH_KEYS)]:
        array = np.ascontiguousarray(array)
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _request(config: GeneratorConfig, seed: int, n: int, condition: str) -> dict[str, Any]:
    return {"format": FORMAT, "condition": condition, "config": config.to_dict(), "seed": int(seed),
            "n": int(n), "generator": generator_hash()}


def dataset_path(directory: Path, condition: str, config: GeneratorConfig, seed: int, n: int) -> Path:
    """Default file for a request: `<condition>-s<seed>-n<n>-<parameter hash>.npz` in `directory`."""
    key = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    return Path(directory) / f"{condition}-s{seed}-n{n}-{key}.npz"


def manifest_path(path: Path) -> Path:
    """The JSON manifest next to an `.npz` file."""
    return Path(path).with_suffix(".json")


def save(path: Path, profiles: np.ndarray, truth: dict[str, np.ndarray], request: dict[str, Any]) -> Dataset:
    """Write arrays, then the manifest (with the content hash), both atomically."""
    path = Path(path)
    manifest = {**request, "sha256": content_hash(profiles, truth), "length": int(profiles.shape[1])}
    atomic_write(path, lambda f: np.savez(f, profiles=profiles, **truth))
    atomic_write_text(manifest_path(path), json.dumps(manifest, indent=2))
    return Dataset(profiles, truth, manifest, path)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a dataset file; DatasetError when missing or unreadable."""
    mpath = manifest_path(path)
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError:
        what = "file" if not Path(path).exists() else "manifest"
        raise DatasetError(f"dataset {what} {str(path if what == 'file' else mpath)!r} is missing; "
                           f"allowed: an .npz written by `workbench generate` with its .json manifest") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"dataset manifest {str(mpath)!r} is unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"dataset manifest {str(mpath)!r} is not a {FORMAT} manifest")
    return manifest


def load(path: Path) -> Dataset:
    """Read and verify a dataset; DatasetError if missing, truncated, corrupt or its hash disagrees."""
    path = Path(path)
    manifest = read_manifest(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            profiles = data["profiles"]
            truth = {key: data[key] for key in TRUTH_KEYS}
    except FileNotFoundError:
        raise DatasetError(f"dataset file {str(path)!r} is missing") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"dataset file {str(path)!r} is truncated or corrupt ({type(exc).__name__})") from None
    if content_hash(profiles, truth) != manifest.get("sha256"):
        raise DatasetError(f"dataset file {str(path)!r} does not match its manifest hash")
    return Dataset(profiles, truth, manifest, path)


def load_or_generate(config: GeneratorConfig, seed: int, n: int, path_or_dir: Path | str = DEFAULT_DATA_DIR,
                     condition: str = "custom") -> Dataset:
    """The dataset for (config, seed, n): reused when its file is valid and current, else (re)generated.

    `path_or_dir` is an `.npz` path or a folder (then the file name comes from `dataset_path`).
    """
    config.validate()
    target = Path(path_or_dir)
    if target.suffix != ".npz":
        target = dataset_path(target, condition, config, seed, n)
    request = _request(config, seed, n, condition)
    try:
        dataset = load(target)
        stale = {k for k, v in request.items() if dataset.manifest.get(k) != v}
        if not stale:
            return dataset
        reason = f"stale ({', '.join(sorted(stale))} changed)"
    except DatasetError as exc:
        reason = str(exc)
    if target.exists() or manifest_path(target).exists():
        log.warning("regenerating %s: %s", target, reason)
    profiles, truth = signals.generate(config, n, seed)
    return save(target, profiles, truth, request)


def regenerate_from_manifest(path: Path) -> Dataset:
    """Load a dataset, regenerating it from its manifest when the arrays are missing or bad."""
    manifest = read_manifest(path)
    try:
        config = GeneratorConfig.from_dict(manifest["config"])
        seed, n, condition = int(manifest["seed"]), int(manifest["n"]), str(manifest["condition"])
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise DatasetError(f"dataset manifest {str(manifest_path(path))!r} is incomplete ({exc})") from None
    return load_or_generate(config, seed, n, path, condition)


def split_seed(base_seed: int, split: str, condition: str) -> int:
    """A seed for one split and condition, derived from the base seed (distinct for distinct names)."""
    text = f"{int(base_seed)}/{split}/{condition}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:7], "big")


def preset_splits(condition: str, base_seed: int, sizes: dict[str, int], length: int,
                  data_dir: Path | str = DEFAULT_DATA_DIR) -> dict[str, Dataset]:
    """One dataset per split (`{"train": 20000, "val": 5000}`) of a named preset, seeds from `split_seed`."""
    config = signals.preset(condition, length=length)
    return {split: load_or_generate(config, split_seed(base_seed, split, condition), n, data_dir, condition=condition)
            for split, n in sizes.items()}


def _check_sizes(sizes: dict[str, int]) -> None:
    for key in ("train", "val", "test", *(("val_condition",) if "val_condition" in sizes else ())):
        value = sizes.get(key)
        if not isinstance(value, int) or not 1 <= value <= signals.MAX_PROFILES:
            raise ConfigError(f"split size {key}={value!r} invalid; allowed 1..{signals.MAX_PROFILES}")


def benchmark_splits(base_seed: int, sizes: dict[str, int], data_dir: Path | str = DEFAULT_DATA_DIR,
                     conditions: tuple[str, ...] = TEST_CONDITIONS, test_split: str = "test",
                     **overrides: Any) -> Splits:
    """Train and validation sets (preset `mixed`), a test set per condition and, when `sizes` has
    `val_condition`, a validation set per condition, all from distinct seeds.

    `sizes` has keys `train`, `val`, `test` (profiles per test condition) and optionally `val_condition`;
    `test_split` is the test seeds' namespace (`TEST_SPLITS`: `lockbox` only for final studies);
    `overrides` replace generator parameters in every preset (e.g. `length=128`).
    """
    _check_sizes(sizes)
    if test_split not in TEST_SPLITS:
        raise ConfigError(f"test split {test_split!r} unknown; allowed {TEST_SPLITS}")
    plan = [("train", "mixed", sizes["train"]), ("val", "mixed", sizes["val"])]
    plan += [(test_split, name, sizes["test"]) for name in conditions]
    if "val_condition" in sizes:
        plan += [("val_condition", name, sizes["val_condition"]) for name in conditions]
    seeds = [split_seed(base_seed, split, name) for split, name, _ in plan]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"derived seeds collide for base seed {base_seed}; choose another seed")
    made = [load_or_generate(signals.preset(name, **overrides), seed, n, data_dir,
                             condition=name if split in ("train", "val", test_split) else f"{name}-val")
            for (split, name, n), seed in zip(plan, seeds)]
    by_split: dict[str, dict[str, Dataset]] = {}
    for (split, name, _), dataset in zip(plan[2:], made[2:]):
        by_split.setdefault(split, {})[name] = dataset
    return Splits(made[0], made[1], by_split.get(test_split, {}), by_split.get("val_condition", {}), test_split)


def write_split_index(splits: Splits, folder: Path) -> Path:
    """Write `datasets.json` (file, seed, n, config, hash of every split, the test seeds' namespace) into `folder`."""
    def entry(ds: Dataset) -> dict[str, Any]:
        return {"file": str(ds.path), **{k: ds.manifest[k] for k in ("condition", "seed", "n", "config", "sha256")}}

    index = {"train": entry(splits.train), "val": entry(splits.val),
             "test": {name: entry(ds) for name, ds in splits.test.items()},
             "val_conditions": {name: entry(ds) for name, ds in splits.val_by_condition.items()},
             "test_split": splits.test_split}
    path = Path(folder) / INDEX_FILE
    atomic_write_text(path, json.dumps(index, indent=2))
    return path


def _from_entry(entry: dict[str, Any]) -> Dataset:
    config = GeneratorConfig.from_dict(entry["config"])
    dataset = load_or_generate(config, entry["seed"], entry["n"], Path(entry["file"]), entry["condition"])
    if dataset.manifest["sha256"] != entry["sha256"]:
        raise DatasetError(f"dataset {entry['file']!r} regenerated with a different hash than the index records")
    return dataset


def load_stage_splits(folder: Path | str) -> Splits:
    """The splits recorded by the run_all `datasets` stage in `folder` (regenerated if files went missing)."""
    path = Path(folder) / INDEX_FILE
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"split index {str(path)!r} is missing or unreadable ({exc})") from None
    return Splits(_from_entry(index["train"]), _from_entry(index["val"]),
                  {name: _from_entry(entry) for name, entry in index["test"].items()},
                  {name: _from_entry(entry) for name, entry in index.get("val_conditions", {}).items()},
                  index.get("test_split", "test"))

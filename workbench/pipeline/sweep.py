"""Sweeps: train and evaluate quantized networks over a grid of settings and seeds as Dask tasks.

A spec (TOML, see `docs/sweeps.md`) names the seeds, the data and a grid (every list a grid axis:
bits, topology, requantizer scale mode, any `TrainConfig` option). It is validated as a whole before
any task runs. Each (configuration, seed) task trains a QAT network on the same data, exports it and
evaluates the `qnn-int/1` document on the golden model; `workbench.pipeline.tasks` runs the tasks on
Dask, each in a folder under `tasks/` keyed by its settings and the code fingerprint of this module,
written under a temporary name and renamed when complete, so a restart skips finished tasks and a
killed one leaves nothing half-written and is run again. The runs merge into `runs.csv` and, per
configuration, the mean and spread across seeds into `summary.csv`.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ConfigError
from workbench.pipeline.tasks import missing_tasks, run_tasks, task_key

GRID_KEYS = ("bits", "topology", "scale_mode")  # network settings; other grid keys are TrainConfig options
DATA_DEFAULTS: dict[str, Any] = {"condition": "mixed", "seed": 0, "train": 20_000, "val": 5_000, "test": 5_000,
                                 "length": 256}
NETWORK_DEFAULTS: dict[str, Any] = {"bits": "4/4", "topology": "c8k7,c8k5,d8,c1k3", "scale_mode": "learned"}
METRICS = ("rmse_px", "miss_rate", "false_alarm_rate", "gross_error_rate", "bias_px")
RUN_COLUMNS = ("configuration", "seed", *METRICS, "n", "train_seconds", "key")
SPREAD_STATS = ("mean", "std", "min", "max")
SUMMARY_COLUMNS = ("configuration", "seeds", *(f"{m}_{stat}" for m in METRICS for stat in SPREAD_STATS))


@dataclass(frozen=True)
class Configuration:
    """One grid point: the network settings and the training options (all but the seed)."""

    bits: str
    topology: str
    scale_mode: str
    training: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        """`"4/4 c8k7,c8k5,d8,c1k3 learned epochs=1"`: the settings that identify it in the tables."""
        options = " ".join(f"{key}={value}" for key, value in self.training)
        return f"{self.bits} {self.topology} {self.scale_mode}" + (f" {options}" if options else "")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the grid's configurations, the seeds and the data settings."""

    configurations: tuple[Configuration, ...]
    seeds: tuple[int, ...]
    data: dict[str, Any]


@dataclass(frozen=True)
class Task:
    """One training and evaluation: a configuration at a seed, keyed by settings and code."""

    configuration: Configuration
    seed: int
    data: dict[str, Any]
    code: str

    @property
    def settings(self) -> dict[str, Any]:
        """Everything the task's result depends on, JSON-ready."""
        return {"configuration": dataclasses.asdict(self.configuration), "seed": self.seed, "data": self.data}

    @property
    def key(self) -> str:
        """SHA-256 of the settings and the code fingerprint (`workbench.pipeline.tasks.task_key`)."""
        return task_key(self.settings, self.code)


@dataclass(frozen=True)
class SweepResult:
    """Where the tables are, and how many tasks ran now or came from the cache."""

    runs: Path
    summary: Path
    computed: int
    cached: int


def load_spec(path: Path | str) -> SweepSpec:
    """Read and validate a TOML spec; a ConfigError names the offending key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"sweep spec {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sweep spec {str(path)!r} is not valid TOML: {exc}") from None
    return parse_spec(raw)


def parse_spec(raw: dict[str, Any]) -> SweepSpec:
    """Validate a spec's tables (`seeds`, `[data]`, `[grid]`, `[training]`) and expand the grid."""
    from workbench.data.signals import PRESETS
    from workbench.nn.training import TrainConfig

    _only_keys(raw, ("seeds", "data", "grid", "training"), "the spec")
    seeds = raw.get("seeds")
    if (not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise ConfigError(f"seeds {seeds!r}: need a non-empty list of distinct integers >= 0")
    data = {**DATA_DEFAULTS, **_table(raw, "data", tuple(DATA_DEFAULTS))}
    for key in ("seed", "train", "val", "test", "length"):
        if not _is_int(data[key]) or data[key] < (0 if key == "seed" else 1):
            raise ConfigError(f"data.{key} {data[key]!r}: need an integer >= {0 if key == 'seed' else 1}")
    if data["condition"] not in PRESETS:
        raise ConfigError(f"data.condition {data['condition']!r}; allowed: {sorted(PRESETS)}")
    options = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "seed")
    allowed = (*GRID_KEYS, *options)
    fixed = _table(raw, "training", allowed)
    grid = _table(raw, "grid", allowed)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{key} {values!r}: need a non-empty list of values")
        if key in fixed:
            raise ConfigError(f"grid.{key} is also set in [training]; set it in one place")
    axes = list(grid)
    configurations = []
    for point in itertools.product(*(grid[key] for key in axes)):
        settings = {**NETWORK_DEFAULTS, **fixed, **dict(zip(axes, point))}
        training = tuple((key, settings[key]) for key in options if key in settings)
        configuration = Configuration(settings["bits"], settings["topology"], settings["scale_mode"], training)
        _check_configuration(configuration, TrainConfig)
        configurations.append(configuration)
    return SweepSpec(tuple(configurations), tuple(seeds), data)


def _check_configuration(configuration: Configuration, train_config: type) -> None:
    """Build the network spec and training config once, so a bad value fails before any task."""
    from workbench.nn.models import default_spec, parse_topology
    from workbench.nn.qlayers import SCALE_MODES

    for key, value in (("bits", configuration.bits), ("topology", configuration.topology),
                       ("scale_mode", configuration.scale_mode)):
        if not isinstance(value, str):
            raise ConfigError(f"{key} {value!r}: need a string")
    if configuration.scale_mode not in SCALE_MODES:
        raise ConfigError(f"scale_mode {configuration.scale_mode!r}; allowed: {list(SCALE_MODES)}")
    default_spec(configuration.bits, parse_topology(configuration.topology))
    try:
        train_config(**dict(configuration.training))
    except TypeError as exc:
        raise ConfigError(f"training options {dict(configuration.training)}: {exc}") from None


def _table(raw: dict[str, Any], name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{name} must be a table ([{name}]), got {table!r}")
    _only_keys(table, allowed, f"[{name}]")
    return table


def _only_keys(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {where}; allowed: {list(allowed)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def tasks_of(spec: SweepSpec) -> list[Task]:
    """Every (configuration, seed) task of the spec, keyed by the code fingerprint of this module."""
    from workbench.pipeline.code_key import code_fingerprint

    code = code_fingerprint(__name__)
    return [Task(configuration, seed, spec.data, code) for configuration in spec.configurations
            for seed in spec.seeds]


def _train_and_evaluate(task: Task, folder: Path, data_dir: Path, tf_threads: int) -> dict[str, Any]:
    from workbench.data.datasets import preset_splits
    from workbench.evaluation.metrics import compute_metrics
    from workbench.nn.detector_training import prepare_sets, train_detector
    from workbench.nn.models import default_spec, parse_topology
    from workbench.nn.training import TrainConfig, pin_threads
    from workbench.qnn.contract import load_network
    from workbench.qnn.detector import golden_detector

    pin_threads(tf_threads)
    configuration, data = task.configuration, task.data
    splits = _splits(data, data_dir, preset_splits)
    config = TrainConfig(seed=task.seed, **dict(configuration.training))
    sets = prepare_sets(splits["train"], splits["val"], config)
    spec = dataclasses.replace(default_spec(configuration.bits, parse_topology(configuration.topology),
                                            input_bits=sets.input_bits), scale_mode=configuration.scale_mode)
    result = train_detector(spec, sets, config, folder, quantized=True, name="qat", detector_name=configuration.label,
                            progress=lambda message: None)
    test = splits["test"]
    found, pos = golden_detector(configuration.label, load_network(result.document_path)).detect(test.profiles)
    metrics = compute_metrics(found, pos, test.truth["centre"], test.truth["empty"], draws=1)
    return {"configuration": configuration.label, "seed": task.seed, "key": task.key,
            "train_seconds": float(result.trained.log["seconds"]), "settings": task.settings,
            **{name: getattr(metrics, name) for name in (*METRICS, "n")}}


def _splits(data: dict[str, Any], data_dir: Path, preset_splits: Any) -> dict[str, Any]:
    """The train, validation and test sets of the spec's data (generated and cached on first use)."""
    sizes = {split: data[split] for split in ("train", "val", "test")}
    return preset_splits(data["condition"], data["seed"], sizes, data["length"], data_dir)


def summarize(rows: list[dict[str, Any]], group_by: tuple[str, ...] = ("configuration",),
              metrics: tuple[str, ...] = METRICS) -> list[dict[str, Any]]:
    """Per group of rows with equal `group_by` values (in the order of the rows): the number of seeds and,
    for every metric, mean, standard deviation (ddof 1), min and max across seeds; NaN and missing values
    (a rate with nothing to count) are left out."""
    summary = []
    for values in dict.fromkeys(tuple(row[key] for key in group_by) for row in rows):
        group = [row for row in rows if tuple(row[key] for key in group_by) == values]
        entry: dict[str, Any] = {**dict(zip(group_by, values)), "seeds": len(group)}
        for metric in metrics:
            numbers = np.array([math.nan if row.get(metric) is None else row[metric] for row in group],
                               dtype=np.float64)
            numbers = numbers[~np.isnan(numbers)]
            stats = ((numbers.mean(), numbers.std(ddof=1) if numbers.size > 1 else math.nan, numbers.min(),
                      numbers.max()) if numbers.size else (math.nan,) * 4)
            entry.update({f"{metric}_{name}": float(v) for name, v in zip(SPREAD_STATS, stats)})
        summary.append(entry)
    return summary


def run_sweep(spec_path: Path | str, out: Path | str, data_dir: Path | str, *, scheduler: str | None = None,
              workers: int | None = None, tf_threads: int = 1, progress: bool = True) -> SweepResult:
    """Validate the spec, run its missing tasks on Dask (`workbench.pipeline.tasks.run_tasks`: a
    LocalCluster unless `scheduler` is given) and write `runs.csv` and `summary.csv` in `out`."""
    from workbench.data.datasets import preset_splits
    from workbench.evaluation.tables import write_csv

    if tf_threads < 1 or (workers is not None and workers < 1):
        raise ConfigError(f"workers {workers!r} and tf_threads {tf_threads!r}: need integers >= 1")
    spec = load_spec(spec_path)
    out, data_dir = Path(out), Path(data_dir)
    tasks_dir = out / "tasks"
    tasks = tasks_of(spec)
    if missing_tasks(tasks, tasks_dir):
        _splits(spec.data, data_dir, preset_splits)  # generate once here, not concurrently in the workers
    work = functools.partial(_train_and_evaluate, data_dir=data_dir.resolve(), tf_threads=tf_threads)
    rows, computed = run_tasks(tasks, tasks_dir, work, scheduler=scheduler, workers=workers, tf_threads=tf_threads,
                               progress=progress, label="sweep")
    runs = write_csv(rows, out / "runs.csv", RUN_COLUMNS)
    summary = write_csv(summarize(rows), out / "summary.csv", SUMMARY_COLUMNS)
    return SweepResult(runs, summary, computed=computed, cached=len(tasks) - computed)

"""run_all's study mode: every network of the study at several training seeds, as cached Dask tasks.

The training stage in study mode builds one `StudyTask` per (network, training seed) and runs them with
`workbench.pipeline.tasks.run_tasks` (the sweep's runner). A task trains its network on the run's
training split, sets its threshold for 1% false alarms on the empty validation profiles, exports a QAT
network to `qnn-int/1` (and checks Keras integer mode against the golden model), converts a float
network to its TFLite int8 twins, and records every detector's `(found, pos)` on the test sets in
`detections/<method>.npz`. Its key hashes the network, the seed, the training settings, the content
hashes of the data and the code this module reaches; a network's topology is part of the network, so adding
a family (`workbench.pipeline.families`) leaves the other networks' keys as they were. `seed_tables` then turns
the recorded detections into one accuracy row per seed and a row pooled over the seeds
(`workbench.evaluation.tables.accuracy_row`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ConfigError
from workbench.evaluation.tables import ACCURACY_COLUMNS
from workbench.pipeline.families import DEFAULT_FAMILY, family_topologies, in_family
from workbench.pipeline.sweep import SPREAD_STATS
from workbench.pipeline.tasks import task_key

FLOAT_NAME = "float"
TASK_SETTINGS = ("train_profiles", "val_profiles", "test_profiles", "epochs", "finetune_epochs", "patience",
                 "batch_size", "tflite_sizes", "bitexact_profiles", "ablation_conditions")
"""The stage settings a task's result depends on (hashed into its key)."""
DETECTIONS = "detections"
SPREAD_METRICS = ("rmse_px", "miss_rate", "gross_error_rate", "false_alarm_rate", "total_error", "efficiency",
                  "rmse_ratio", "total_error_ratio")
"""The metrics whose mean and spread across seeds the study tabulates."""
SEED_COLUMNS = ("seed", *ACCURACY_COLUMNS)
SPREAD_COLUMNS = ("method", "bits", "condition", "seeds", *(f"{m}_{s}" for m in SPREAD_METRICS for s in SPREAD_STATS))


@dataclass(frozen=True)
class Network:
    """One network of the study: its file name, its method name in the tables and how it is built."""

    name: str          # file stem: float, qat_4-4, qat_4-4_pow2, qat_4-4_reach
    method: str        # method column of the tables: nn_float, nn_qat, qat_4-4_pow2, nn_qat_reach
    bits: str          # W/A bits of its spec (the float twin is built from the 8/8 spec)
    quantized: bool
    topology: str
    scale_mode: str = "learned"
    ablation: bool = False  # tested on the ablation conditions only
    family: str = DEFAULT_FAMILY

    @property
    def table_bits(self) -> str | None:
        """The bits column: empty for the float network."""
        return self.bits if self.quantized else None


def study_networks(settings: dict[str, Any]) -> list[Network]:
    """The float network, one learned-scale QAT network per `bits`, and the scale ablation (every
    `ablation_modes` but `learned`, whose networks are the main ones, at every `ablation_bits`), all of the
    default family's `topology`; then one QAT network per `bits` of every other family (`families`: no
    float twin, no TFLite, no ablation). A ConfigError names a file name that two networks would share."""
    from workbench.nn.models import default_spec, parse_topology

    topologies = family_topologies(settings)
    topology = topologies[DEFAULT_FAMILY]
    layers = parse_topology(topology)
    networks = [Network(FLOAT_NAME, "nn_float", "8/8", False, topology)]
    for family, family_topology in topologies.items():
        family_layers = parse_topology(family_topology)
        networks += [Network(in_family(default_spec(bits, family_layers).qat_name, family), in_family("nn_qat", family),
                             bits, True, family_topology, family=family) for bits in settings["bits"]]
    for bits in settings["ablation_bits"]:
        name = default_spec(bits, layers).qat_name
        networks += [Network(f"{name}_{mode}", f"{name}_{mode}", bits, True, topology, mode, ablation=True)
                     for mode in settings["ablation_modes"] if mode != "learned"]
    names = [network.name for network in networks]
    shared = sorted({name for name in names if names.count(name) > 1})
    if shared:
        raise ConfigError(f"study networks {shared} share a file name; allowed family names other than the "
                          f"ablation modes {settings['ablation_modes']}")
    return networks


@dataclass(frozen=True)
class StudyTask:
    """One network at one training seed, keyed by its settings, its data and the code."""

    network: Network
    seed: int
    options: dict[str, Any]  # the TASK_SETTINGS and the content hashes of the data
    code: str

    @property
    def settings(self) -> dict[str, Any]:
        """Everything the task's result depends on, JSON-ready."""
        return {"network": dataclasses.asdict(self.network), "seed": self.seed, **self.options}

    @property
    def key(self) -> str:
        """`workbench.pipeline.tasks.task_key` of the settings and the code fingerprint of this module."""
        return task_key(self.settings, self.code)


def study_tasks(settings: dict[str, Any], seeds: list[int], datasets_index: dict[str, Any]) -> list[StudyTask]:
    """Every (network, seed) task, networks first; `datasets_index` is the datasets stage's `datasets.json`."""
    from workbench.pipeline.code_key import code_fingerprint

    data = {"train": datasets_index["train"]["sha256"], "val": datasets_index["val"]["sha256"],
            "test": {name: entry["sha256"] for name, entry in datasets_index["test"].items()}}
    options = {"training": {key: settings[key] for key in TASK_SETTINGS}, "data": data}
    code = code_fingerprint(__name__)
    return [StudyTask(network, seed, options, code) for network in study_networks(settings) for seed in seeds]


def cap(dataset: Any, limit: int | None) -> Any:
    """The first `limit` profiles of a dataset (all of them when `limit` is None)."""
    return dataset if limit is None or len(dataset) <= limit else dataset.subset(slice(0, limit))


def train_and_detect(task: StudyTask, folder: Path, datasets: Path, tf_threads: int) -> dict[str, Any]:
    """Train the task's network at its seed into `folder`, record its detectors' `(found, pos)` on the test
    sets; the result row (`workbench.pipeline.tasks.Work`)."""
    from workbench.data.datasets import load_stage_splits
    from workbench.nn import training
    from workbench.nn.detector_training import prepare_sets, train_detector
    from workbench.nn.detectors import calibrated_tflite, golden_mismatches
    from workbench.nn.models import default_spec, parse_topology
    from workbench.nn.tflite_baseline import calibration_sets

    training.pin_threads(tf_threads)
    s, network = task.options["training"], task.network
    splits = load_stage_splits(datasets)
    train_set, val_set = cap(splits.train, s["train_profiles"]), cap(splits.val, s["val_profiles"])
    wanted = s["ablation_conditions"] if network.ablation else list(splits.test)
    config = training.TrainConfig(epochs=s["epochs"], finetune_epochs=s["finetune_epochs"], patience=s["patience"],
                                  batch_size=s["batch_size"], seed=task.seed)
    sets = prepare_sets(train_set, val_set, config)
    # test sets of the networks' input depth only (bits_10, bits_12 are never rescaled for them)
    tests = {name: cap(splits.test[name], s["test_profiles"]) for name in wanted
             if name in splits.test and splits.test[name].config.bits == sets.input_bits}
    spec = dataclasses.replace(default_spec(network.bits, parse_topology(network.topology), input_bits=sets.input_bits),
                               scale_mode=network.scale_mode)
    result = train_detector(spec, sets, config, folder, quantized=network.quantized, name=network.name,
                            detector_name=network.method, family=network.family, progress=lambda line: None)
    detectors = [(result.detector, network.table_bits)]
    bitexact = None
    if network.quantized:
        bitexact = golden_mismatches(f"{network.name} seed {task.seed}", result.trained.model, result.document,
                                     tests[next(iter(tests))].profiles[:s["bitexact_profiles"]])
    else:
        for size, _, index in calibration_sets(len(train_set), tuple(s["tflite_sizes"]), 1, task.seed):
            detectors.append((calibrated_tflite(f"tflite_int8_cal{size}", result.trained.model,
                                                train_set.profiles[index], sets.empty_val, tf_threads), "8/8"))
    methods = []
    for detector, bits in detectors:
        arrays = {}
        for condition, dataset in tests.items():
            arrays[f"{condition}.found"], arrays[f"{condition}.pos"] = detector.detect(dataset.profiles)
        path = folder / DETECTIONS / f"{detector.name}.npz"
        path.parent.mkdir(exist_ok=True)
        np.savez_compressed(path, **arrays)
        methods.append({"method": detector.name, "bits": bits, "threshold": float(detector.threshold)})
    return {"network": network.name, "seed": task.seed, "key": task.key, "methods": methods,
            "training": {**training.log_summary(result.trained.log), "seed": task.seed}, "bitexact": bitexact}


def recorded_detections(tasks_dir: Path, result: dict[str, Any], method: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`condition -> (found, pos)` recorded by a finished task for one of its methods."""
    with np.load(Path(tasks_dir) / result["key"] / DETECTIONS / f"{method}.npz") as data:
        conditions = dict.fromkeys(name.rsplit(".", 1)[0] for name in data.files)
        return {c: (data[f"{c}.found"], data[f"{c}.pos"]) for c in conditions}


def seed_tables(results: list[dict[str, Any]], tasks_dir: Path, tests: dict[str, Any], yardsticks: dict[str, Any],
                seed: int, draws: int, s_curve_conditions: tuple[str, ...] = ()) -> tuple[list[dict], list[dict],
                                                                                         list[dict]]:
    """From the tasks' recorded detections: accuracy rows per (method, condition, training seed), rows pooled
    over the seeds (`workbench.evaluation.tables.accuracy_row`) and pooled S-curve rows."""
    from workbench.evaluation.tables import accuracy_row, s_curve_rows

    by_method: dict[tuple[str, str | None], list[tuple[int, dict]]] = {}
    for result in results:
        for entry in result["methods"]:
            by_method.setdefault((entry["method"], entry["bits"]), []).append(
                (result["seed"], recorded_detections(tasks_dir, result, entry["method"])))
    seed_rows, pooled, curves = [], [], []
    for (method, bits), per_seed in by_method.items():
        for condition in [c for c in tests if c in per_seed[0][1]]:
            detections = [recorded[condition] for _, recorded in per_seed]
            for training_seed, found_pos in zip((s for s, _ in per_seed), detections):
                row = accuracy_row(method, bits, condition, [found_pos], tests[condition], yardsticks[condition],
                                   seed, draws)
                seed_rows.append({**row, "seed": training_seed})
            pooled.append({**accuracy_row(method, bits, condition, detections, tests[condition],
                                          yardsticks[condition], seed, draws), "seeds": len(detections)})
            if condition in s_curve_conditions:
                curves += s_curve_rows(method, bits, condition, detections, tests[condition])
    return seed_rows, pooled, curves


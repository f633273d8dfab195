"""The `workbench evaluate` action: classical detectors and networks side by side on the user's datasets.

`compare_on_datasets(request)` loads (or regenerates) the test datasets and the validation set, tunes
each classical method on the validation set (`classical.tune_all`), builds each network
(`detector_spec.build_detector`) with the same threshold rule, evaluates all of them with
`tables.evaluate` and writes `accuracy.csv`, `s_curve.csv`, `choices.json` and the figures.

A network's threshold: a `qnn-int/1` document keeps its own (`head.threshold`, set on validation data
when it was exported) unless `recalibrate`; a `.keras` model has none stored, so it is always set on
the validation set. Both use `interface.calibrate` (1% false alarms on the empty validation profiles,
an integer threshold for integer scores), so a validation set without empty profiles is an error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workbench.data.datasets import Dataset, load_or_generate, regenerate_from_manifest, split_seed
from workbench.detectors import classical
from workbench.detectors.interface import ThresholdedDetector, calibrate
from workbench.errors import ConfigError
from workbench.evaluation import plots
from workbench.evaluation.comparison import DEFAULT_REFERENCE
from workbench.evaluation.detector_spec import DOCUMENT_SUFFIX, build_detector, is_network
from workbench.evaluation.tables import S_CURVE_COLUMNS, Row, evaluate, write_csv
from workbench.files import atomic_write_text

VALIDATION_MIN_PROFILES = 2000  # profiles of a generated validation set (at least the first test set's)


@dataclass(frozen=True)
class CompareRequest:
    """What `workbench evaluate` was asked."""

    data: tuple[Path, ...]
    out: Path
    validation: Path | None = None
    methods: tuple[str, ...] = tuple(classical.METHODS)
    models: tuple[Path, ...] = ()
    recalibrate: bool = False
    draws: int = 1000
    seed: int = 0


def parse_methods(text: str) -> tuple[str, ...]:
    """`all`, `none` or a comma-separated list of classical methods (each checked)."""
    if text == "all":
        return tuple(classical.METHODS)
    if text == "none":
        return ()
    names = tuple(text.split(","))
    for name in names:
        classical.method(name)
    return names


def network_detector(path: Path, validation: Dataset, recalibrate: bool) -> tuple[ThresholdedDetector, dict]:
    """A `.keras` or `qnn-int/1` network as a detector with its threshold, and a record of the choice."""
    if not is_network(str(path)):
        raise ConfigError(f"--models file {path} is neither a .keras model nor a qnn-int .json document")
    built = build_detector(str(path))
    data_bits = validation.config.bits
    if built.input_bits != data_bits:
        raise ConfigError(f"network {path} was built for {built.input_bits}-bit input but the datasets are "
                          f"{data_bits}-bit; allowed: datasets of the network's depth")
    document = path.suffix.lower() == DOCUMENT_SUFFIX
    if document and not recalibrate:
        return built.detector, {"threshold": built.detector.threshold, "source": "document"}
    empty = validation.truth["empty"]
    if not empty.any():
        why = "recalibrating its threshold (--recalibrate)" if document else "a .keras model's threshold"
        raise ConfigError(f"{why} for {path} needs empty profiles in the validation set (1% false alarms on "
                          f"them), but its {len(validation)} profiles have none; pass a --validation set "
                          "generated with empty_fraction > 0 (e.g. preset mixed)")
    detector = calibrate(built.detector, validation.profiles[empty], integer=document)
    return detector, {"threshold": detector.threshold, "source": "validation"}


def _test_sets(paths: tuple[Path, ...]) -> dict[str, Dataset]:
    """The datasets by condition name (the file's stem where a condition repeats)."""
    test_sets: dict[str, Dataset] = {}
    for path in paths:
        dataset = regenerate_from_manifest(path)
        test_sets[dataset.condition if dataset.condition not in test_sets else path.stem] = dataset
    return test_sets


def _validation(request: CompareRequest, first: Dataset) -> Dataset:
    """The given validation set, or one generated from the first test set's parameters with a disjoint seed."""
    if request.validation is not None:
        return regenerate_from_manifest(request.validation)
    seed = split_seed(first.manifest["seed"], "val", first.condition)
    return load_or_generate(first.config, seed, max(len(first), VALIDATION_MIN_PROFILES), first.path.parent,
                            condition=f"{first.condition}-val")


def _check_one_depth(test_sets: dict[str, Dataset], validation: Dataset) -> None:
    """Thresholds (and a network's input range) hold at one sensor depth: ConfigError when the datasets mix depths."""
    depths = {name: dataset.config.bits for name, dataset in test_sets.items()}
    if set(depths.values()) != {validation.config.bits}:
        raise ConfigError(f"datasets of other sensor depths than the {validation.config.bits}-bit validation set: "
                          f"{ {n: b for n, b in depths.items() if b != validation.config.bits} } bits; allowed: "
                          "test and validation sets of one depth per run")


def compare_on_datasets(request: CompareRequest) -> list[Row]:
    """Tune and calibrate every detector on the validation set, evaluate them on the datasets, write the files."""
    if request.draws < 1:
        raise ConfigError(f"--draws {request.draws} invalid; allowed >= 1")
    if not request.methods and not request.models:
        raise ConfigError("nothing to evaluate: --methods none and no --models; allowed at least one detector")
    test_sets = _test_sets(request.data)
    first = next(iter(test_sets.values()))
    validation = _validation(request, first)
    _check_one_depth(test_sets, validation)
    networks = [network_detector(path, validation, request.recalibrate) for path in request.models]
    tuned = classical.tune_all(list(request.methods), validation) if request.methods else []
    detectors = [d for d, _ in tuned] + [d for d, _ in networks]
    names = [d.name for d in detectors]
    if len(set(names)) != len(names):
        raise ConfigError(f"detector names {names} repeat; allowed: models whose file names differ from each "
                          "other and from the classical methods")
    choices = {d.name: record for d, record in tuned + networks}
    reference = next((d for (d, _), name in zip(tuned, request.methods) if name == DEFAULT_REFERENCE), None)
    rows, curves = evaluate(detectors, test_sets, seed=request.seed, draws=request.draws,
                            s_curve_conditions=tuple(test_sets), reference=reference)
    _write(request.out, rows, curves, choices, test_sets, detectors)
    return rows


def _write(out: Path, rows: list[Row], curves: list[Row], choices: dict, test_sets: dict[str, Dataset],
           detectors: list[ThresholdedDetector]) -> None:
    write_csv(rows, out / "accuracy.csv")
    write_csv(curves, out / "s_curve.csv", S_CURVE_COLUMNS)
    atomic_write_text(out / "choices.json", json.dumps(choices, indent=2))
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

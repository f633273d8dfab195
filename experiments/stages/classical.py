"""Stage `classical`: tune every classical detector on validation data, evaluate on every test condition.

The offline references, not FPGA methods, are evaluated beside them: the Gaussian fit
(`workbench.detectors.gaussian_fit`, seeded by the tuned BR8) as `gauss_fit`, the localisation optimum,
and the matched filter (`workbench.detectors.matched_filter`, threshold for 1% false alarms on the empty
validation profiles) as `matched_filter`, the detection optimum. Every row is paired with BR8. Writes
`tables/accuracy_classical.csv`, `tables/s_curve_classical.csv`, `classical_choices.json` (chosen windows
and thresholds), `figures/examples_classical.png` and `report/classical.md`.

On a test condition of another sensor depth than the validation set's (`bits_10`, `bits_12`) every method
keeps its window and gets its threshold (1% false alarms) from the empty profiles of that condition's own
validation set, as thresholds in DN do not carry over between depths; the fit gets that depth's noise
model. Those thresholds are in `classical_depth_thresholds.json`.
"""
from __future__ import annotations

import json
import os

import numpy as np

from workbench.detectors import classical
from workbench.detectors.gaussian_fit import NAME as FIT_NAME, gaussian_fit_detector
from workbench.detectors.interface import ThresholdedDetector, calibrate
from workbench.detectors.matched_filter import NAME as MATCHED_NAME, matched_filter_detector
from workbench.data.datasets import Dataset, Splits, load_stage_splits
from workbench.errors import ConfigError
from workbench.evaluation.comparison import DEFAULT_REFERENCE
from workbench.evaluation.tables import S_CURVE_COLUMNS, S_CURVE_CONDITION, evaluate, write_csv
from workbench.pipeline.stages import Stage, StageContext
from workbench.evaluation.plots import plot_examples


def example_indices(dataset: Dataset) -> tuple[list[int], list[str]]:
    """One profile each: low SNR, high SNR, saturated, with a reflection (first match in the set)."""
    t = dataset.truth
    line = ~t["empty"]
    picks = [("SNR < 6", line & (t["snr"] < 6) & ~t["reflection"]),
             ("SNR > 40", line & (t["snr"] > 40) & ~t["saturated"] & ~t["reflection"]),
             ("saturated", line & t["saturated"]), ("secondary reflection present", line & t["reflection"] & ~t["saturated"])]
    chosen = [(int(np.flatnonzero(mask)[0]), caption) for caption, mask in picks if mask.any()]
    return [i for i, _ in chosen], [c for _, c in chosen]


def _choices_markdown(choices: dict) -> str:
    lines = ["## Classical detectors: settings chosen on validation data", "",
             "| method | window | threshold (score units) |", "|---|---|---|"]
    lines += [f"| {name} | {c['window'] if c['window'] is not None else '-'} | {c['threshold']:.4g} |"
              for name, c in choices.items()]
    return "\n".join(lines) + "\n"


def _validation_of(splits: Splits, condition: str) -> Dataset:
    """The validation set of one test condition; ConfigError when the datasets stage made none."""
    if condition not in splits.val_by_condition:
        raise ConfigError(f"test condition {condition!r} is {splits.test[condition].config.bits}-bit, the validation "
                          f"set {splits.val.config.bits}-bit, and it has no validation set of its own to set "
                          f"thresholds on; allowed: datasets made with per-condition validation sets")
    return splits.val_by_condition[condition]


def _with_offline_references(detectors: list[ThresholdedDetector], reference: ThresholdedDetector | None,
                              validation: Dataset) -> list[ThresholdedDetector]:
    """The detectors, the Gaussian fit seeded by the reference (with `validation`'s noise model) and the
    matched filter with its threshold for 1% false alarms on `validation`'s empty profiles."""
    extra = [gaussian_fit_detector(reference, validation.config)] if reference is not None else []
    matched = calibrate(matched_filter_detector(), validation.profiles[validation.truth["empty"]])
    return [*detectors, *extra, matched]


def _at_depth(tuned: list[ThresholdedDetector], reference: ThresholdedDetector | None,
              validation: Dataset) -> tuple[list[ThresholdedDetector], ThresholdedDetector | None]:
    """Every method (windows kept) with thresholds for 1% false alarms on `validation`'s empty profiles,
    and the reference recalibrated the same way."""
    empty = validation.profiles[validation.truth["empty"]]
    reference = calibrate(reference, empty) if reference is not None else None
    return _with_offline_references([calibrate(d, empty) for d in tuned], reference, validation), reference


def run(ctx: StageContext) -> None:
    splits = load_stage_splits(ctx.dep("datasets"))
    names = ctx.settings["methods"]
    workers = max(1, min(len(names), os.cpu_count() or 1))
    # the slow wavelet search goes first so that the other methods share the remaining workers
    order = sorted(names, key=lambda n: n != "find_peaks_cwt")
    tuned = dict(zip(order, classical.tune_all(order, splits.val, workers=workers)))
    choices = {name: tuned[name][1] for name in names}
    (ctx.out / "classical_choices.json").write_text(json.dumps(choices, indent=2))
    reference = tuned[DEFAULT_REFERENCE][0] if DEFAULT_REFERENCE in tuned else None
    detectors = _with_offline_references([tuned[name][0] for name in order], reference, splits.val)
    order = [*names, FIT_NAME, MATCHED_NAME]
    depth = splits.val.config.bits
    same_depth = {name: ds for name, ds in splits.test.items() if ds.config.bits == depth}
    rows, curves = evaluate(detectors, same_depth, seed=ctx.config.seed, draws=ctx.settings["draws"],
                            s_curve_conditions=(S_CURVE_CONDITION,), workers=workers, reference=reference)
    depth_thresholds = {}
    for name in (n for n in splits.test if n not in same_depth):
        validation = _validation_of(splits, name)
        deep, deep_reference = _at_depth([tuned[n][0] for n in names], reference, validation)
        deep_rows, _ = evaluate(deep, {name: splits.test[name]}, seed=ctx.config.seed, draws=ctx.settings["draws"],
                                workers=workers, reference=deep_reference)
        rows += deep_rows
        depth_thresholds[name] = {d.name: d.threshold for d in deep}
    (ctx.out / "classical_depth_thresholds.json").write_text(json.dumps(depth_thresholds, indent=2))
    rows.sort(key=lambda r: order.index(r["method"]))
    curves.sort(key=lambda r: order.index(r["method"]))
    write_csv(rows, ctx.out / "tables" / "accuracy_classical.csv")
    write_csv(curves, ctx.out / "tables" / "s_curve_classical.csv", S_CURVE_COLUMNS)
    mixed = splits.test["mixed"]
    index, captions = example_indices(mixed)
    estimates = {name: tuned[name][0].detect(mixed.profiles[index]) for name in names}
    plot_examples(mixed.profiles[index], mixed.truth["centre"][index], estimates,
                  ctx.out / "figures" / "examples_classical.png", captions)
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "classical.md").write_text(_choices_markdown(choices))


STAGE = Stage(
    name="classical",
    run=run,
    depends=("datasets",),
    description="tune and evaluate the classical detectors",
    settings={"quick": {"methods": list(classical.METHODS), "draws": 500},
              "study": {"methods": list(classical.METHODS), "draws": 1000},
              "full": {"methods": list(classical.METHODS), "draws": 2000}},
)

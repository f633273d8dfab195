"""Stage `classical`: tune every classical detector on validation data, evaluate on every test condition.

The offline references, not FPGA methods, are evaluated beside them: the Gaussian fit
(`workbench.detectors.gaussian_fit`, seeded by the tuned BR8) as `gauss_fit`, the localisation optimum,
and the matched filter (`workbench.detectors.matched_filter`, threshold for 1% false alarms on the empty
validation profiles) as `matched_filter`, the detection optimum. Every row is paired with BR8. Writes
`tables/accuracy_classical.csv`, `tables/s_curve_classical.csv`, `classical_choices.json` (chosen windows
and thresholds), `figures/examples_classical.png` and `report/classical.md`.
"""
from __future__ import annotations

import json
import os

import numpy as np

from workbench.detectors import classical
from workbench.detectors.gaussian_fit import NAME as FIT_NAME, gaussian_fit_detector
from workbench.detectors.interface import calibrate
from workbench.detectors.matched_filter import NAME as MATCHED_NAME, matched_filter_detector
from workbench.data.datasets import Dataset, load_stage_splits
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


def run(ctx: StageContext) -> None:
    splits = load_stage_splits(ctx.dep("datasets"))
    names = ctx.settings["methods"]
    workers = max(1, min(len(names), os.cpu_count() or 1))
    # the slow wavelet search goes first so that the other methods share the remaining workers
    order = sorted(names, key=lambda n: n != "find_peaks_cwt")
    tuned = dict(zip(order, classical.tune_all(order, splits.val, workers=workers)))
    detectors = [tuned[name][0] for name in order]
    choices = {name: tuned[name][1] for name in names}
    (ctx.out / "classical_choices.json").write_text(json.dumps(choices, indent=2))
    reference = tuned[DEFAULT_REFERENCE][0] if DEFAULT_REFERENCE in tuned else None
    if reference is not None:
        detectors.append(gaussian_fit_detector(reference, splits.val.config))
    detectors.append(calibrate(matched_filter_detector(), splits.val.profiles[splits.val.truth["empty"]]))
    order = [*names, FIT_NAME, MATCHED_NAME]
    rows, curves = evaluate(detectors, splits.test, seed=ctx.config.seed, draws=ctx.settings["draws"],
                            s_curve_conditions=(S_CURVE_CONDITION,), workers=workers, reference=reference)
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

"""run_all stage `training`: float, quantization-aware and TFLite int8 networks, trained, exported, evaluated.

Every network has the default topology (464 MACs/pixel), the same data, target, budget and early
stopping on the validation set; thresholds are set for 1% false alarms on empty validation profiles.
Outputs:
- `models/<name>.keras`, `models/<name>.log.json` (training log), `models/qat_*.json` (qnn-int/1,
  only the main sweep, which the hdl stage reads), `models/ablation/` (ablation models);
- `tables/accuracy_nn.csv` (columns of the classical table; TFLite rows are means over draws),
  `tables/s_curve_nn.csv`, `tables/bitexact_keras.csv` (Keras integer mode vs golden model),
  `tables/tflite_calibration.csv` (every representative-set size and draw), `tables/ablation.csv`,
  `tables/training.csv` (epochs, seconds per epoch, validation loss of every network);
- `figures/accuracy_vs_bits.png`, `figures/s_curve_nn.png` (the comparisons against SNR with every
  method are drawn by the report stage from the merged accuracy table).

The networks are evaluated on the test conditions of their input depth (the training data's) only: a
deeper sensor's profiles (`bits_10`, `bits_12`) lie outside their input range and are not rescaled.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.pipeline.stages import Stage, StageContext

SETTINGS = {
    "quick": {"train_profiles": 10000, "val_profiles": 4000, "test_profiles": None, "epochs": 8,
              "finetune_epochs": 2, "patience": 3, "batch_size": 64,
              "bits": ["8/8", "4/4", "3/3", "2/2", "6-4-4-6/4-3-3"],
              "tflite_sizes": [10, 100, 500], "tflite_draws": 2,
              "ablation_bits": ["4/4", "2/2"], "ablation_modes": ["learned", "pow2", "pact"],
              "ablation_conditions": ["mixed", "snr_8"], "bitexact_profiles": 500},
    "full": {"train_profiles": 50000, "val_profiles": 20000, "test_profiles": None, "epochs": 60,
             "finetune_epochs": 4, "patience": 6, "batch_size": 64,
             "bits": ["8/8", "4/4", "3/3", "2/2", "6-4-4-6/4-3-3", "8-3-3-8/3-3-3"],
             "tflite_sizes": [10, 100, 500], "tflite_draws": 5,
             "ablation_bits": ["4/4", "2/2"], "ablation_modes": ["learned", "pow2", "pact"],
             "ablation_conditions": ["mixed", "snr_4", "snr_8", "snr_16"], "bitexact_profiles": 5000},
}
TFLITE_COLUMNS = ("size", "draw", "condition", "threshold", "rmse_px", "gross_error_rate", "miss_rate",
                  "false_alarm_rate", "n_good")
ABLATION_COLUMNS = ("scale_mode", "bits", "condition", "rmse_px", "rmse_ci_low", "rmse_ci_high",
                    "gross_error_rate", "miss_rate", "false_alarm_rate", "best_val_loss")
TRAINING_COLUMNS = ("model", "bits", "epochs", "best_epoch", "best_val_loss", "seconds_per_epoch", "seconds")
AVERAGED = ("rmse_px", "rmse_ci_low", "rmse_ci_high", "bias_px", "gross_error_rate", "miss_rate",
            "false_alarm_rate", "n_good", "total_error", "crlb_px", "crlb_free_px", "efficiency", "paired_n",
            "rmse_ratio", "rmse_ratio_ci_low", "rmse_ratio_ci_high", "total_error_ratio", "total_error_ratio_ci_low",
            "total_error_ratio_ci_high")


def _cap(dataset: Any, limit: int | None) -> Any:
    return dataset if limit is None or len(dataset) <= limit else dataset.subset(slice(0, limit))


def _training_row(trained: Any) -> dict[str, Any]:
    epochs = [e for phase in trained.log["phases"].values() for e in phase["epochs"]]
    seconds = sum(e["seconds"] for e in epochs)
    last = list(trained.log["phases"].values())[-1]
    return {"model": trained.log["name"], "bits": trained.log["bits"], "epochs": len(epochs),
            "best_epoch": last["best_epoch"], "best_val_loss": last["best_val_loss"],
            "seconds_per_epoch": seconds / max(len(epochs), 1), "seconds": trained.log["seconds"]}


def run(ctx: StageContext) -> None:
    import keras

    from workbench.data.datasets import load_stage_splits
    from workbench.errors import WorkbenchError
    from workbench.evaluation import tables
    from workbench.nn import models, training
    from workbench.nn.detector_training import prepare_sets, train_detector
    from workbench.detectors import classical
    from workbench.evaluation.comparison import DEFAULT_REFERENCE

    s = ctx.settings
    splits = load_stage_splits(ctx.dep("datasets"))
    reference, _ = classical.tune(DEFAULT_REFERENCE, splits.val)  # as the classical stage tunes it
    train_set, val_set = _cap(splits.train, s["train_profiles"]), _cap(splits.val, s["val_profiles"])
    config = training.TrainConfig(epochs=s["epochs"], finetune_epochs=s["finetune_epochs"], patience=s["patience"],
                                  batch_size=s["batch_size"], seed=ctx.config.seed)
    sets = prepare_sets(train_set, val_set, config)
    tests = {name: _cap(ds, s["test_profiles"]) for name, ds in splits.test.items()
             if ds.config.bits == sets.input_bits}
    other_depth = sorted(set(splits.test) - set(tests))
    if other_depth:  # e.g. bits_10, bits_12: outside the networks' input range, never rescaled
        ctx.log.info("  networks take %d-bit input: not evaluated on %s", sets.input_bits, ", ".join(other_depth))
    folder = ctx.out / "models"
    progress = lambda line: ctx.log.info("  %s", line)  # noqa: E731
    detectors, training_rows, bitexact_rows, sweep = [], [], [], {}

    float_run = train_detector(models.default_spec("8/8", input_bits=sets.input_bits), sets, config, folder,
                               quantized=False, name="float", detector_name="nn_float", progress=progress)
    training_rows.append(_training_row(float_run.trained))
    detectors.append(float_run.detector)

    check_profiles = tests["mixed"].profiles[:s["bitexact_profiles"]]
    for bits in s["bits"]:
        spec = models.default_spec(bits, input_bits=sets.input_bits)
        name = spec.qat_name
        result = train_detector(spec, sets, config, folder, quantized=True, name=name, detector_name="nn_qat",
                                progress=progress)
        sweep[spec.bits_label] = result
        training_rows.append(_training_row(result.trained))
        detectors.append(result.detector)
        bitexact_rows.append(_bitexact(name, result.trained.model, result.document, check_profiles))
        ctx.log.info("  %s: threshold %d, Keras integer vs golden mismatches %d", name,
                     result.document["head"]["threshold"], bitexact_rows[-1]["mismatches"])

    rows, curves = tables.evaluate(detectors, tests, seed=ctx.config.seed,
                                   s_curve_conditions=[tables.S_CURVE_CONDITION], reference=reference)
    tflite_rows, tflite_table = _tflite(float_run.trained.model, train_set, sets.empty_val, tests, s, ctx.config.seed,
                                        reference)
    ablation = _ablation(sets, config, folder / "ablation", tests, s, progress, ctx.config.seed, sweep)

    table_dir = ctx.out / "tables"
    tables.write_csv(rows + tflite_rows, table_dir / "accuracy_nn.csv")
    tables.write_csv(curves, table_dir / "s_curve_nn.csv", tables.S_CURVE_COLUMNS)
    tables.write_csv(bitexact_rows, table_dir / "bitexact_keras.csv", tables.BITEXACT_COLUMNS)
    tables.write_csv(tflite_table, table_dir / "tflite_calibration.csv", TFLITE_COLUMNS)
    tables.write_csv(ablation, table_dir / "ablation.csv", ABLATION_COLUMNS)
    tables.write_csv(training_rows, table_dir / "training.csv", TRAINING_COLUMNS)
    _figures(ctx, rows + tflite_rows, curves)
    keras.backend.clear_session()
    failed = [r for r in bitexact_rows if r["mismatches"]]
    if failed:
        raise WorkbenchError(f"Keras integer mode and the golden model disagree: {failed}")


def _bitexact(name: str, model: Any, doc: dict, profiles: np.ndarray) -> dict[str, Any]:
    """Keras integer-mode scores against the golden model on test profiles."""
    from workbench.qnn import golden
    from workbench.nn import integer_mode
    from workbench.qnn.contract import load_network

    integer_mode.set_integer_mode(model, True)
    try:
        ours = integer_mode.integer_scores(model, profiles)
    finally:
        integer_mode.set_integer_mode(model, False)
    reference = golden.scores(load_network(doc), profiles)
    return {"model": name, "stage": "keras-integer vs golden", "profiles": len(profiles),
            "compared": int(reference.size), "mismatches": int(np.sum(ours != reference))}


def _tflite(float_model: Any, train_set: Any, empty_val: np.ndarray, tests: dict, s: dict,
            seed: int, reference: Any) -> tuple[list[dict], list[dict]]:
    """Per representative-set size: accuracy rows averaged over draws, and one table row per draw and condition."""
    from workbench.evaluation import tables
    from workbench.qnn.contract import PeakHead
    from workbench.detectors.interface import calibrate
    from workbench.qnn.detector import integer_detector
    from workbench.nn.tflite_baseline import Int8Runner, calibration_sets, convert_int8

    head = PeakHead("parabolic", 1, 0, 8)
    by_size: dict[int, list[list[dict]]] = {}
    table = []
    for size, draw, index in calibration_sets(len(train_set), tuple(s["tflite_sizes"]), s["tflite_draws"], seed):
        runner = Int8Runner(convert_int8(float_model, train_set.profiles[index]))
        detector = calibrate(integer_detector(f"tflite_int8_cal{size}", runner, head, bits="8/8"), empty_val,
                             integer=True)
        rows, _ = tables.evaluate([detector], tests, seed=seed, reference=reference)
        by_size.setdefault(size, []).append(rows)
        table += [{"size": size, "draw": draw, "threshold": detector.threshold, **row} for row in rows]
    averaged = []
    for draws in by_size.values():
        for per_condition in zip(*draws):
            row = dict(per_condition[0])
            for key in AVERAGED:
                row[key] = float(np.nanmean([float(r[key]) for r in per_condition]))
            averaged.append(row)
    return averaged, table


def _ablation(sets: Any, config: Any, folder: Path, tests: dict, s: dict, progress: Any, seed: int,
              sweep: dict[str, Any]) -> list[dict]:
    """Learned alpha vs fixed power of two vs PACT-style clip, at the ablation bit widths.

    The learned-alpha networks are those of the main sweep (same spec, data, budget and seed).
    """
    from dataclasses import replace

    from workbench.evaluation import tables
    from workbench.nn import models
    from workbench.nn.detector_training import train_detector

    conditions = {name: tests[name] for name in s["ablation_conditions"] if name in tests}
    out = []
    for bits in s["ablation_bits"]:
        for mode in s["ablation_modes"]:
            spec = replace(models.default_spec(bits, input_bits=sets.input_bits), scale_mode=mode)
            name = f"{spec.qat_name}_{mode}"
            result = sweep.get(spec.bits_label) if mode == "learned" else None
            if result is None:
                result = train_detector(spec, sets, config, folder, quantized=True, name=name, detector_name=name,
                                        progress=progress)
            rows, _ = tables.evaluate([replace(result.detector, name=name)], conditions, seed=seed)
            best = list(result.trained.log["phases"].values())[-1]["best_val_loss"]
            out += [{**row, "scale_mode": mode, "best_val_loss": best} for row in rows]
    return out


def _figures(ctx: StageContext, nn_rows: list[dict], curves: list[dict]) -> None:
    """The networks' own figures; the comparisons with every method against SNR are drawn by the
    report stage from the merged accuracy table."""
    from workbench.evaluation import tables, plots

    figures = ctx.out / "figures"
    plots.plot_s_curves(curves, figures / "s_curve_nn.png",
                        f"S-curve of the networks ({tables.S_CURVE_CONDITION})")
    _plot_accuracy_vs_bits(nn_rows, figures / "accuracy_vs_bits.png")


def _plot_accuracy_vs_bits(rows: list[dict], path: Path) -> None:
    """RMSE of every QAT network (by W/A bits) at a few SNRs, float and TFLite (500) as reference lines."""
    import matplotlib.pyplot as plt

    conditions = [c for c in ("snr_4", "snr_8", "snr_16", "snr_32") if any(r["condition"] == c for r in rows)]
    qat = [r for r in rows if r["method"] == "nn_qat"]
    labels = list(dict.fromkeys(r["bits"] for r in qat))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, condition in enumerate(conditions):
        colour = plt.get_cmap("tab10")(i)
        y = [next(float(r["rmse_px"]) for r in qat if r["bits"] == b and r["condition"] == condition) for b in labels]
        ax.plot(range(len(labels)), y, "o-", color=colour, label=f"QAT, {condition}")
        for method, style in (("nn_float", "--"), ("tflite_int8_cal500", ":")):
            ref = [float(r["rmse_px"]) for r in rows if r["method"] == method and r["condition"] == condition]
            if ref:
                ax.axhline(ref[0], color=colour, linestyle=style, linewidth=1, label=f"{method}, {condition}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("weight / activation bits")
    ax.set_ylabel("sub-pixel RMSE (px)")
    ax.set_title("Accuracy vs precision (dashed: float, dotted: TFLite int8, 500 calibration profiles)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


STAGE = Stage(
    name="training",
    run=run,
    depends=("datasets",),
    description="float, QAT (8/8, 4/4, 3/3, 2/2, mixed) and TFLite int8 networks; export; bit-exact check",
    settings=SETTINGS,
)

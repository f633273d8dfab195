"""run_all stage `training`: float, quantization-aware and TFLite int8 networks, trained, exported, evaluated.

Every network has the same data, target, budget and early stopping on the validation set; thresholds are set
for 1% false alarms on empty validation profiles. The networks of the default family have the default topology
(464 MACs/pixel, the paper-faithful baseline, method `nn_qat`); study and full mode also train, at every `bits`,
each family of the setting `families` (`workbench.pipeline.families`: `reach`, c4k11,c8k9,d8,c1k5, 436
MACs/pixel, reach +-11 px; method `nn_qat_reach`, documents `qat_<bits>_reach.json`), without a float twin,
TFLite twins or ablation.
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
from workbench.pipeline.study import cap

SETTINGS = {
    "quick": {"train_profiles": 10000, "val_profiles": 4000, "test_profiles": None, "epochs": 8,
              "finetune_epochs": 2, "patience": 3, "batch_size": 64,
              "bits": ["8/8", "4/4", "3/3", "2/2", "6-4-4-6/4-3-3"],
              "tflite_sizes": [10, 100, 500], "tflite_draws": 2,
              "ablation_bits": ["4/4", "2/2"], "ablation_modes": ["learned", "pow2", "pact"],
              "ablation_conditions": ["mixed", "snr_8"], "bitexact_profiles": 500},
    # study: every network at 3 training seeds as cached Dask tasks (workbench.pipeline.study), sized for
    # about 90 minutes on 2 cores (docs/training.md, section 10)
    "study": {"seeds": 3, "train_profiles": 20000, "val_profiles": 10000, "test_profiles": None, "epochs": 30,
              "finetune_epochs": 3, "patience": 4, "batch_size": 64, "topology": "c8k7,c8k5,d8,c1k3",
              "families": {"reach": "c4k11,c8k9,d8,c1k5"},
              "bits": ["8/8", "4/4", "3/3", "2/2", "6-4-4-6/4-3-3"], "tflite_sizes": [10, 100, 500],
              "ablation_bits": ["4/4", "2/2"], "ablation_modes": ["learned", "pow2", "pact"],
              "ablation_conditions": ["mixed", "snr_4", "snr_8", "snr_16"], "bitexact_profiles": 2000,
              "draws": 1000, "workers": None},
    "full": {"train_profiles": 50000, "val_profiles": 20000, "test_profiles": None, "epochs": 60,
             "finetune_epochs": 4, "patience": 6, "batch_size": 64, "families": {"reach": "c4k11,c8k9,d8,c1k5"},
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


def run(ctx: StageContext) -> None:
    if ctx.config.mode == "study":
        run_study(ctx)
        return
    import keras

    from workbench.data.datasets import load_stage_splits
    from workbench.errors import WorkbenchError
    from workbench.evaluation import tables
    from workbench.nn import models, training
    from workbench.nn.detector_training import prepare_sets, train_detector
    from workbench.nn.detectors import golden_mismatches
    from workbench.detectors import classical
    from workbench.evaluation.comparison import DEFAULT_REFERENCE
    from workbench.pipeline.families import DEFAULT_FAMILY, family_topologies, in_family

    s = ctx.settings
    splits = load_stage_splits(ctx.dep("datasets"))
    reference, _ = classical.tune(DEFAULT_REFERENCE, splits.val)  # as the classical stage tunes it
    train_set, val_set = cap(splits.train, s["train_profiles"]), cap(splits.val, s["val_profiles"])
    config = training.TrainConfig(epochs=s["epochs"], finetune_epochs=s["finetune_epochs"], patience=s["patience"],
                                  batch_size=s["batch_size"], seed=ctx.config.seed)
    sets = prepare_sets(train_set, val_set, config)
    tests = {name: cap(ds, s["test_profiles"]) for name, ds in splits.test.items()
             if ds.config.bits == sets.input_bits}
    other_depth = sorted(set(splits.test) - set(tests))
    if other_depth:  # e.g. bits_10, bits_12: outside the networks' input range, never rescaled
        ctx.log.info("  networks take %d-bit input: not evaluated on %s", sets.input_bits, ", ".join(other_depth))
    folder = ctx.out / "models"
    progress = lambda line: ctx.log.info("  %s", line)  # noqa: E731
    detectors, training_rows, bitexact_rows, sweep = [], [], [], {}

    float_run = train_detector(models.default_spec("8/8", input_bits=sets.input_bits), sets, config, folder,
                               quantized=False, name="float", detector_name="nn_float", progress=progress)
    training_rows.append(training.log_summary(float_run.trained.log))
    detectors.append(float_run.detector)

    check_profiles = tests["mixed"].profiles[:s["bitexact_profiles"]]
    for family, topology in family_topologies(s).items():
        for bits in s["bits"]:
            spec = models.default_spec(bits, models.parse_topology(topology), input_bits=sets.input_bits)
            name = in_family(spec.qat_name, family)
            result = train_detector(spec, sets, config, folder, quantized=True, name=name,
                                    detector_name=in_family("nn_qat", family), family=family, progress=progress)
            if family == DEFAULT_FAMILY:
                sweep[spec.bits_label] = result
            training_rows.append(training.log_summary(result.trained.log))
            detectors.append(result.detector)
            bitexact_rows.append(golden_mismatches(name, result.trained.model, result.document, check_profiles))
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


def run_study(ctx: StageContext) -> None:
    """Study mode: every network at `seeds` training seeds (run seed, +1, ...) as cached Dask tasks
    (`workbench.pipeline.study`); tables per seed, pooled over seeds, and the spread across seeds."""
    import functools
    import json
    import shutil

    from workbench.data.datasets import INDEX_FILE, load_stage_splits
    from workbench.detectors import classical
    from workbench.errors import WorkbenchError
    from workbench.evaluation import tables
    from workbench.evaluation.comparison import DEFAULT_REFERENCE
    from workbench.pipeline import study
    from workbench.pipeline.sweep import summarize
    from workbench.pipeline.tasks import run_tasks

    s = ctx.settings
    datasets = ctx.dep("datasets")
    seeds = [ctx.config.seed + k for k in range(s["seeds"])]
    tasks = study.study_tasks(s, seeds, json.loads((datasets / INDEX_FILE).read_text()))
    tasks_dir = ctx.cache_root.parent / "tasks" / "study"
    ctx.log.info("  %d networks x %d seeds %s: %d tasks in %s", len(tasks) // len(seeds), len(seeds), seeds,
                 len(tasks), tasks_dir)
    work = functools.partial(study.train_and_detect, datasets=datasets.resolve(), tf_threads=1)
    results, computed = run_tasks(tasks, tasks_dir, work, workers=s["workers"], label="study")
    ctx.log.info("  study tasks: %d computed, %d from the cache", computed, len(tasks) - computed)

    splits = load_stage_splits(datasets)
    reference, _ = classical.tune(DEFAULT_REFERENCE, splits.val)  # as the classical stage tunes it
    tests = {name: cap(ds, s["test_profiles"]) for name, ds in splits.test.items()
             if ds.config.bits == splits.train.config.bits}  # the networks' input depth (study.train_and_detect)
    sticks = {name: tables.yardstick(ds, reference) for name, ds in tests.items()}
    seed_rows, pooled, curves = study.seed_tables(results, tasks_dir, tests, sticks, ctx.config.seed, s["draws"],
                                                  (tables.S_CURVE_CONDITION,))
    trainings = [result["training"] for result in results]
    bitexact_rows = [result["bitexact"] for result in results if result["bitexact"]]
    ablation_methods = {task.network.method for task in tasks if task.network.ablation}
    main_rows = [row for row in pooled if row["method"] not in ablation_methods]  # as in quick runs
    table_dir = ctx.out / "tables"
    tables.write_csv(main_rows, table_dir / "accuracy_nn.csv")
    tables.write_csv(seed_rows, table_dir / "seeds_nn.csv", study.SEED_COLUMNS)
    tables.write_csv(summarize(seed_rows, ("method", "bits", "condition"), study.SPREAD_METRICS),
                     table_dir / "seed_spread_nn.csv", study.SPREAD_COLUMNS)
    tables.write_csv(curves, table_dir / "s_curve_nn.csv", tables.S_CURVE_COLUMNS)
    tables.write_csv(bitexact_rows, table_dir / "bitexact_keras.csv", tables.BITEXACT_COLUMNS)
    tables.write_csv(trainings, table_dir / "training.csv", ("seed", *TRAINING_COLUMNS))
    tables.write_csv(_study_ablation(pooled, trainings, s), table_dir / "ablation.csv", ABLATION_COLUMNS)
    for task in tasks:  # the run seed's networks where the later stages look, the other seeds beside them
        target = ctx.out / "models" / ("" if task.seed == seeds[0] else f"seed_{task.seed}")
        target = target / "ablation" if task.network.ablation else target
        target.mkdir(parents=True, exist_ok=True)
        for file in (tasks_dir / task.key).glob(f"{task.network.name}*"):
            shutil.copy2(file, target / file.name)
    _figures(ctx, main_rows, curves)
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "seeds.md").write_text(_seeds_markdown(seed_rows, main_rows, seeds))
    failed = [r for r in bitexact_rows if r["mismatches"]]
    if failed:
        raise WorkbenchError(f"Keras integer mode and the golden model disagree: {failed}")


def _study_ablation(pooled: list[dict], trainings: list[dict], s: dict) -> list[dict]:
    """The scale ablation from the pooled rows: the learned scale is the main QAT network at those bits."""
    import numpy as np

    from workbench.nn import models

    out = []
    for bits in s["ablation_bits"]:
        name = models.default_spec(bits, models.parse_topology(s["topology"])).qat_name
        for mode in s["ablation_modes"]:
            method, model = ("nn_qat", name) if mode == "learned" else (f"{name}_{mode}", f"{name}_{mode}")
            best = float(np.mean([t["best_val_loss"] for t in trainings if t["model"] == model]))
            out += [{**row, "scale_mode": mode, "best_val_loss": best} for row in pooled
                    if row["method"] == method and row["bits"] == bits and row["condition"] in s["ablation_conditions"]]
    return out


def _seeds_markdown(seed_rows: list[dict], pooled: list[dict], seeds: list[int]) -> str:
    """The report's section on training seeds: per method and SNR, each seed's number and the pooled one."""
    from workbench.evaluation.markdown import pivot_markdown
    from workbench.data.signals import SWEEP_CONDITIONS
    from workbench.evaluation.plots import method_label

    conditions = [c for c in SWEEP_CONDITIONS if any(r["condition"] == c for r in pooled)]
    by_seed = {}
    for row in seed_rows:
        by_seed.setdefault((method_label(row), row["condition"]), []).append(row)

    def cell(column: str, interval: str | None = None, digits: int = 3):
        def render(row: dict) -> str:
            values = " / ".join(f"{r[column]:.{digits}g}" for r in by_seed[method_label(row), row["condition"]])
            bounds = (f" [{row[interval + '_ci_low']:.{digits}g}, {row[interval + '_ci_high']:.{digits}g}]"
                      if interval else "")
            return f"{values} -> {row[column]:.{digits}g}{bounds}"
        return render

    lines = ["## Training seeds", "",
             f"Every network was trained at seeds {', '.join(map(str, seeds))} (same data, same budget). Each cell: "
             "the seeds' values, then the value pooled over the seeds, whose interval is a paired bootstrap over "
             "seeds, then profiles: the accuracy tables and the verdicts use the pooled rows. Every row per seed: "
             "`tables/seeds_nn.csv`; mean, standard deviation, min and max across seeds: `tables/seed_spread_nn.csv`.",
             "", "### Sub-pixel RMSE (px) per seed and pooled", "", pivot_markdown(pooled, conditions, cell("rmse_px", "rmse")),
             "### RMSE ratio to the reference on the lines both find, per seed and pooled", "",
             pivot_markdown(pooled, conditions, cell("rmse_ratio", "rmse_ratio")),
             "### Miss rate per seed and pooled", "", pivot_markdown(pooled, conditions, cell("miss_rate", digits=2))]
    return "\n".join(lines)


def _tflite(float_model: Any, train_set: Any, empty_val: np.ndarray, tests: dict, s: dict,
            seed: int, reference: Any) -> tuple[list[dict], list[dict]]:
    """Per representative-set size: accuracy rows averaged over draws, and one table row per draw and condition."""
    from workbench.evaluation import tables
    from workbench.nn.detectors import calibrated_tflite
    from workbench.nn.tflite_baseline import calibration_sets

    by_size: dict[int, list[list[dict]]] = {}
    table = []
    for size, draw, index in calibration_sets(len(train_set), tuple(s["tflite_sizes"]), s["tflite_draws"], seed):
        detector = calibrated_tflite(f"tflite_int8_cal{size}", float_model, train_set.profiles[index], empty_val)
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

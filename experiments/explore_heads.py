#!/usr/bin/env python3
"""Network-only against HYBRID heads, BR8 and the Gaussian fit, per SNR and on reflections, on VALIDATION data only.

    nice -n 10 python experiments/explore_heads.py results/heads --bits 4/4 8/8 --seeds 0 1 2 \
        --topologies c8k7,c8k5,d8,c1k3 c8k11,c8k9,d8,c1k5

Trains the quick-size quantization-aware network of each `--topologies` x `--bits` once per training seed
(the run_all quick budget; a document already in `<out>/models/` is reused), learns a width-adaptive refinement
(`workbench.qnn.adaptive.learn_network_refinement`) around each network's arg-max on the TRAINING line profiles,
chooses the hybrid's integer refinement among it and the fixed ones (`REFINEMENTS`) by the validation
loss `mean(min(err^2, 1))` of the hybrids on the `mixed` validation line profiles, then evaluates on the per-condition VALIDATION sets (`val_condition` seeds of
`workbench.data.datasets`; no test set is generated or read):

Methods: `br8` (tuned on the mixed validation set), `gauss_fit` (offline optimum), `network_<bits>` (the
document's own head), `hybrid_<bits>` (the chosen refinement) and `hybrid_br8_<bits>` (BR8's taps around
the network's arg-max: what the gating alone changes); a topology other than the default adds its name
(`network_4/4_c8k11,c8k9,d8,c1k5`).

- `<out>/rows.csv`: one accuracy row per method, condition and training seed (the accuracy columns of
  `workbench.evaluation.tables`, paired with the tuned BR8);
- `<out>/summary.csv`: per method and condition, the mean and spread (min, max) over seeds, and the
  RMSE ratio to BR8 on the lines both find pooled over seeds, with a paired bootstrap over seeds, then profiles;
- `<out>/refinement_choice.csv`: every candidate refinement's validation loss per network;
- `<out>/efficiency.png`: efficiency (RMSE / Cramér–Rao bound) and paired ratio against SNR.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from experiments.stages.datasets import STAGE as DATASETS_STAGE  # noqa: E402
from experiments.stages.training import SETTINGS as TRAINING_SETTINGS  # noqa: E402
from workbench.data.datasets import Dataset, preset_splits  # noqa: E402
from workbench.detectors import classical  # noqa: E402
from workbench.detectors.gaussian_fit import gaussian_fit_detector  # noqa: E402
from workbench.detectors.interface import ThresholdedDetector  # noqa: E402
from workbench.evaluation import tables  # noqa: E402
from workbench.evaluation.comparison import DEFAULT_REFERENCE, paired_comparison_over_seeds  # noqa: E402
from workbench.qnn.contract import load_network  # noqa: E402
from workbench.qnn.adaptive import describe, learn_network_refinement  # noqa: E402
from workbench.qnn.detector import golden_detector, hybrid_detector  # noqa: E402
from workbench.qnn.refinement import REFINEMENTS  # noqa: E402

CONDITIONS = ("snr_8", "snr_16", "snr_32", "snr_64", "reflections")
DEFAULT_TOPOLOGY = "c8k7,c8k5,d8,c1k3"
SUMMARY_COLUMNS = ("method", "bits", "macs_per_pixel", "condition", "seeds", "efficiency_mean", "efficiency_min", "efficiency_max",
                   "rmse_px_mean", "miss_rate_mean", "miss_rate_min", "miss_rate_max", "gross_error_rate_mean",
                   "total_error_mean", "paired_n", "rmse_ratio", "rmse_ratio_ci_low", "rmse_ratio_ci_high")
CHOICE_COLUMNS = ("network", "refinement", "taps", "validation_loss", "chosen")


def progress(text: str) -> None:
    print(text, flush=True)


def validation_sets(base_seed: int) -> tuple[Dataset, Dataset, dict[str, Dataset]]:
    """Training, training-validation (`mixed`) and per-condition validation sets of the run_all quick sizes."""
    sizes = DATASETS_STAGE.settings["quick"]
    mixed = preset_splits("mixed", base_seed, {"train": sizes["train"], "val": sizes["val"]}, 256)
    by_condition = {name: preset_splits(name, base_seed, {"val_condition": sizes["val_condition"]}, 256)["val_condition"]
                    for name in CONDITIONS}
    return mixed["train"], mixed["val"], by_condition


def label(topology: str, bits: str) -> str:
    """`4/4`, or `4/4_<topology>` for a topology other than the default."""
    return bits if topology == DEFAULT_TOPOLOGY else f"{bits}_{topology}"


def trained_document(topology: str, bits: str, seed: int, train: Dataset, val: Dataset, folder: Path) -> Path:
    """The exported document of the quick-size QAT network, training seed `seed` (cached in `folder`)."""
    name = f"qat_{label(topology, bits).replace('/', '_').replace(',', '-')}_seed{seed}"
    path = folder / f"{name}.json"
    if path.exists():
        progress(f"reusing {path}")
        return path
    from workbench.nn import models, training
    from workbench.nn.detector_training import prepare_sets, train_detector

    s = TRAINING_SETTINGS["quick"]
    config = training.TrainConfig(epochs=s["epochs"], finetune_epochs=s["finetune_epochs"], patience=s["patience"],
                                  batch_size=s["batch_size"], seed=seed)
    sets = prepare_sets(train.subset(slice(0, s["train_profiles"])), val.subset(slice(0, s["val_profiles"])), config)
    progress(f"training {name}")
    spec = models.default_spec(bits, models.parse_topology(topology), input_bits=sets.input_bits)
    result = train_detector(spec, sets, config, folder,
                            quantized=True, name=name, detector_name="nn_qat", progress=lambda line: progress(f"  {line}"))
    return result.document_path


def choose_refinement(network_name: str, network, train: Dataset, val: Dataset,
                      tag: str, bits: str) -> tuple[ThresholdedDetector, list[dict]]:
    """The hybrid whose refinement has the lowest validation loss on the `mixed` validation line profiles."""
    line = ~val.truth["empty"]
    records, best = [], None
    for refinement in (*REFINEMENTS.values(), learn_network_refinement(network, train)):
        detector = hybrid_detector(f"hybrid_{tag}", network, refinement, bits)
        found, pos = detector.detect(val.profiles[line])
        loss = classical.validation_loss(found, pos, val.truth["centre"][line])
        records.append({"network": network_name, "refinement": refinement.name, "taps": describe(refinement),
                        "validation_loss": loss})
        if best is None or loss < best[0]:
            best = (loss, detector)
    for record in records:
        record["chosen"] = record["refinement"] == dict(best[1].params)["refinement"]
    return best[1], records


def pooled_ratios(detections: dict[str, list[tuple]], reference: dict[str, tuple], sets: dict[str, Dataset],
                  seed: int) -> dict[tuple[str, str], tuple]:
    """Per (method, condition): lines both find (mean over seeds), and the RMSE ratio to the reference with a
    paired bootstrap over seeds, then profiles (`comparison.paired_comparison_over_seeds`)."""
    out = {}
    for (method, condition), per_seed in detections.items():
        truth = sets[condition].truth
        paired = paired_comparison_over_seeds(per_seed, *reference[condition], truth["centre"], truth["empty"],
                                              reference=DEFAULT_REFERENCE,
                                              seed=tables.bootstrap_seed(seed, method, condition))
        out[method, condition] = (paired.paired_n, paired.rmse_ratio, paired.rmse_ratio_ci_low,
                                  paired.rmse_ratio_ci_high)
    return out


def summarize(rows: list[dict], ratios: dict[tuple[str, str], tuple]) -> list[dict]:
    """Mean and spread over training seeds per (method, condition), with the pooled paired ratio."""
    summary = []
    for key in dict.fromkeys((r["method"], r["condition"]) for r in rows):
        group = [r for r in rows if (r["method"], r["condition"]) == key]
        entry = {"method": key[0], "bits": group[0]["bits"], "macs_per_pixel": group[0].get("macs_per_pixel"),
                 "condition": key[1], "seeds": len(group)}
        for metric in ("efficiency", "rmse_px", "miss_rate", "gross_error_rate", "total_error"):
            values = np.array([r[metric] for r in group], dtype=np.float64)
            entry.update({f"{metric}_mean": values.mean(), f"{metric}_min": values.min(), f"{metric}_max": values.max()})
        paired = ratios.get(key)
        if paired is not None:
            entry.update(dict(zip(("paired_n", "rmse_ratio", "rmse_ratio_ci_low", "rmse_ratio_ci_high"), paired)))
        summary.append(entry)
    return summary


HEAD_STYLES = (("hybrid_br8_", ":"), ("hybrid_", "--"), ("network_", "-"))
REFERENCE_COLOURS = {DEFAULT_REFERENCE: "black", "gauss_fit": "grey"}


def style(method: str, networks: list[str]) -> dict:
    """Colour per network (bits and topology), line style per head: network solid, hybrid dashed, BR8-taps hybrid
    dotted; BR8 and the Gaussian fit in black and grey."""
    if method in REFERENCE_COLOURS:
        return {"color": REFERENCE_COLOURS[method], "linestyle": "-"}
    prefix, linestyle = next((p, ls) for p, ls in HEAD_STYLES if method.startswith(p))
    tag = method[len(prefix):]
    if tag not in networks:
        networks.append(tag)
    return {"color": f"C{networks.index(tag) % 10}", "linestyle": linestyle}


def figure(summary: list[dict], path: Path) -> None:
    """Efficiency and paired RMSE ratio to BR8 against SNR, one line per method."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snr = [c for c in CONDITIONS if c.startswith("snr_")]
    x = np.array([int(c.split("_")[1]) for c in snr], dtype=np.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    networks: list[str] = []
    for method in dict.fromkeys(e["method"] for e in summary):
        entries = {e["condition"]: e for e in summary if e["method"] == method}
        look = style(method, networks)
        left.plot(x, [entries[c]["efficiency_mean"] for c in snr], marker="o", label=method, **look)
        if method != DEFAULT_REFERENCE:
            ratio = np.array([[entries[c][k] for k in ("rmse_ratio", "rmse_ratio_ci_low", "rmse_ratio_ci_high")]
                              for c in snr])
            right.errorbar(x, ratio[:, 0], yerr=[ratio[:, 0] - ratio[:, 1], ratio[:, 2] - ratio[:, 0]], marker="o",
                           capsize=3, **look)
    for axis, text in ((left, "efficiency (RMSE / CRLB), mean over seeds"),
                       (right, "RMSE ratio to BR8, lines both find (95% CI)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("SNR (validation sets)")
        axis.set_ylabel(text)
        axis.grid(alpha=0.3)
    right.axhline(1.0, color="black", lw=0.8)
    fig.legend(*left.get_legend_handles_labels(), loc="center right", fontsize=7)
    fig.tight_layout(rect=(0, 0, 0.78, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="results folder (CSV, figure, models)")
    parser.add_argument("--bits", nargs="+", default=["4/4"], help="network precisions (default 4/4)")
    parser.add_argument("--topologies", nargs="+", default=[DEFAULT_TOPOLOGY],
                        help=f"network topologies (default {DEFAULT_TOPOLOGY})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds (default 0 1 2)")
    parser.add_argument("--data-seed", type=int, default=2023, help="base seed of the datasets (default 2023)")
    parser.add_argument("--train-only", action="store_true", help="train (or reuse) the networks and stop")
    args = parser.parse_args()
    models_dir = args.out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)

    train, val, sets = validation_sets(args.data_seed)
    documents = {(topology, bits, seed): trained_document(topology, bits, seed, train, val, models_dir)
                 for topology in args.topologies for bits in args.bits for seed in args.seeds}
    if args.train_only:
        return 0

    progress("tuning BR8 on the mixed validation set")
    br8, _ = classical.tune(DEFAULT_REFERENCE, val)
    fixed = [br8, gaussian_fit_detector(br8, val.config)]
    rows, choices, detections = [], [], {}
    sticks = {name: tables.yardstick(ds, br8) for name, ds in sets.items()}
    reference = {name: (s.reference_found, s.reference_pos) for name, s in sticks.items()}
    for detector in fixed:
        progress(f"evaluating {detector.name}")
        found_rows, _ = tables.evaluate([detector], sets, seed=args.data_seed, reference=br8)
        rows += [{**r, "seed": ""} for r in found_rows]
    for (topology, bits, seed), path in documents.items():
        network = load_network(path)
        tag = label(topology, bits)
        hybrid, records = choose_refinement(path.stem, network, train, val, tag, bits)
        choices += records
        progress(f"{path.stem}: refinement {dict(hybrid.params)['refinement']} chosen on validation")
        br8_taps = hybrid_detector(f"hybrid_br8_{tag}", network, REFINEMENTS["br8"], bits)
        for detector in (golden_detector(f"network_{tag}", network, bits), hybrid, br8_taps):
            for name, ds in sets.items():
                detections.setdefault((detector.name, name), []).append(detector.detect(ds.profiles))
            found_rows = [tables.evaluate_one(detector, {name: ds}, args.data_seed, yardsticks={name: sticks[name]})[0][0]
                          for name, ds in sets.items()]
            rows += [{**r, "seed": seed, "macs_per_pixel": network.macs_per_pixel} for r in found_rows]
            progress(f"  {detector.name} seed {seed}: efficiency "
                     + " ".join(f"{r['condition']} {r['efficiency']:.2f}" for r in found_rows))
    for detector in fixed:
        for name, ds in sets.items():
            detections[detector.name, name] = [detector.detect(ds.profiles)]
    ratios = pooled_ratios(detections, reference, sets, args.data_seed)
    summary = summarize(rows, ratios)
    tables.write_csv(rows, args.out / "rows.csv", ("seed", "macs_per_pixel", *tables.ACCURACY_COLUMNS))
    tables.write_csv(summary, args.out / "summary.csv", SUMMARY_COLUMNS)
    tables.write_csv(choices, args.out / "refinement_choice.csv", CHOICE_COLUMNS)
    figure(summary, args.out / "efficiency.png")
    for entry in summary:
        progress(f"{entry['method']:>14} {entry['condition']:>12}: efficiency {entry['efficiency_mean']:.3f} "
                 f"[{entry['efficiency_min']:.3f}, {entry['efficiency_max']:.3f}], ratio to BR8 "
                 f"{entry.get('rmse_ratio', float('nan')):.3f} [{entry.get('rmse_ratio_ci_low', float('nan')):.3f}, "
                 f"{entry.get('rmse_ratio_ci_high', float('nan')):.3f}], missed {entry['miss_rate_mean']:.4f}, "
                 f"gross {entry['gross_error_rate_mean']:.4f}")
    progress(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

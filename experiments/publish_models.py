"""Publish a run's trained quantized networks under `models/`, each with a model card.

    python experiments/publish_models.py results/study --out models

For every `qnn-int/1` document of the run seed in the results folder's `models/` (the QAT networks of the
main sweep; a study's other training seeds live in `models/seed_<seed>/`) and every HYBRID `qnn-int/2`
document the hybrids stage wrote beside them (`<name>.hybrid.json`), it writes `<out>/<name>/model.json`
(the document; hybrids as `<name>_hybrid/`), `card.json` and `README.md` (`workbench.qnn.model_card`):
structure, provenance (data and training seeds, sizes, epochs, threshold rule), the model's own test
accuracy per condition against BR8 (the study's per-seed rows, else the run's accuracy table) and, for the
networks, Yosys counts at `--lanes` (LUTs per added lane when two lane counts are given; the hybrids are
not synthesised here: `experiments/synth_hybrid.py`, docs/hdl.md), and `<out>/README.md`, the index, with
`design_space.csv` and `design_space.png`: every model's efficiency at SNR 8-64 against its LUTs per added
lane, BR8's integer hardware (the run's `br8_int` Yosys rows) marked. A family's network (metadata.family,
e.g. `qat_4-4_reach.json`) is matched to its own rows (`nn_qat_reach`). Each model folder is written whole or
not at all.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workbench.errors import ConfigError  # noqa: E402
from workbench.evaluation import tables  # noqa: E402
from workbench.evaluation.markdown import number_cell  # noqa: E402
from workbench.files import atomic_folder, atomic_write_text  # noqa: E402
from workbench.qnn import model_card  # noqa: E402
from workbench.qnn.contract import Network  # noqa: E402
from workbench.qnn.contract_v2 import load_document  # noqa: E402
from workbench.evaluation.goals import HYBRID_METHOD, NETWORK_METHOD  # noqa: E402
from workbench.evaluation.plots import plot_efficiency_vs_luts  # noqa: E402
from workbench.pipeline.families import DEFAULT_FAMILY, in_family  # noqa: E402

KINDS = {  # document suffix -> (method in the tables, table stem, folder suffix)
    ".json": (NETWORK_METHOD, "nn", ""),
    ".hybrid.json": (HYBRID_METHOD, "hybrid", "_hybrid"),
}
SNR_SUMMARY = ("snr_8", "snr_16", "snr_32", "snr_64")
DESIGN_SPACE_CSV, DESIGN_SPACE_FIGURE = "design_space.csv", "design_space.png"
DESIGN_SPACE_COLUMNS = ("name", "kind", "bits", "topology", "macs_per_pixel", "luts_per_lane",
                        *(f"{key}_{c}" for key in ("efficiency", "rmse_ratio") for c in SNR_SUMMARY))
REFERENCE_HARDWARE, REFERENCE_METHOD = "br8_int", "br8"


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a results table, numbers parsed; a ConfigError names a missing one."""
    if not path.is_file():
        raise ConfigError(f"{path}: missing; is this a run_all results folder?")
    return tables.read_csv(path)


def run_splits(results: Path) -> tuple[bool, dict[str, int]]:
    """Whether the run's test sets are the lockbox's, and the sizes and seeds of its splits."""
    rows = read_csv(results / "tables" / "datasets.csv")
    train = next(row for row in rows if row["split"] == "train")
    val = next(row for row in rows if row["split"] == "val")
    tests = [row for row in rows if row["split"] in ("test", "lockbox")]
    sizes = {"train_profiles": train["n"], "train_seed": train["seed"], "val_profiles": val["n"],
             "test_profiles": tests[0]["n"]}
    return tests[0]["split"] == "lockbox", sizes


def accuracy_rows(results: Path, method: str, stem: str, bits: str, training_seed: int) -> list[dict[str, Any]]:
    """The model's own rows: the study's per-seed table (`seeds_<stem>.csv`) at `training_seed`, else the run's
    accuracy table (`accuracy_<stem>.csv`)."""
    seeds = results / "tables" / f"seeds_{stem}.csv"
    if seeds.is_file():
        rows = [row for row in read_csv(seeds) if row["seed"] == training_seed]
    else:
        rows = read_csv(results / "tables" / f"accuracy_{stem}.csv")
    rows = [row for row in rows if row["method"] == method and row["bits"] == bits]
    if not rows:
        raise ConfigError(f"{results}: no accuracy rows for method {method!r} bits {bits!r} (seed {training_seed})")
    return rows


def training_row(results: Path, name: str, training_seed: int) -> dict[str, Any]:
    """The network's row of `tables/training.csv` (a study's has a seed column)."""
    for row in read_csv(results / "tables" / "training.csv"):
        if row["model"] == name and row.get("seed", training_seed) == training_seed:
            return row
    raise ConfigError(f"{results}: tables/training.csv has no row for {name!r} seed {training_seed}")


def hardware(name: str, network: Network, lanes: tuple[int, ...], timeout_s: float) -> dict[str, Any]:
    """Yosys counts and estimated clock at each lane count; the LUTs each added lane costs."""
    from workbench.hdl.estimates import analytic_estimate
    from workbench.hdl.hardware import hardware_rows
    from workbench.hdl.network import network_design
    from workbench.hdl.vivado import DEFAULT_PART
    from workbench.hw.top import DEFAULT_PIPELINE_STAGES

    rows = hardware_rows(name, network, lambda p: network_design(network, p, 256, DEFAULT_PIPELINE_STAGES),
                         yosys_lanes=lanes, part=DEFAULT_PART, timeout_s=timeout_s,
                         pipeline_stages=DEFAULT_PIPELINE_STAGES)
    result: dict[str, Any] = {"part": DEFAULT_PART, "flow": "Yosys synth_xilinx, DSPs allowed; LUTs = LUT1-6 + INV",
                              "profile_length": 256, "pipeline_stages": DEFAULT_PIPELINE_STAGES}
    for row in rows:
        result[f"lanes_{row['lanes']}"] = {key: row[key] for key in ("luts", "ffs", "carry4", "dsps", "luts_nodsp",
                                                                      "f_est_mhz", "gpix_per_s_est")}
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        result["luts_per_added_lane"] = round((last["luts"] - first["luts"]) / (last["lanes"] - first["lanes"]))
    result["luts_per_lane_analytic"] = analytic_estimate(network).lane_luts
    return result


def publish(results: Path, out: Path, lanes: tuple[int, ...], timeout_s: float, base_seed: int,
            source: str | None = None) -> list[dict[str, Any]]:
    """Write one model folder per run-seed QAT document of `results` (a run of `run_all --seed base_seed`);
    the cards written."""
    lockbox, sizes = run_splits(results)
    documents = sorted(path for path in (results / "models").glob("qat_*.json") if not path.name.endswith(".log.json"))
    if not documents:
        raise ConfigError(f"{results}/models: no qat_*.json documents to publish")
    cards = []
    for path in documents:
        suffix = ".hybrid.json" if path.name.endswith(".hybrid.json") else ".json"
        kind_method, stem, folder_suffix = KINDS[suffix]
        document = json.loads(path.read_text())
        method = in_family(kind_method, document.get("metadata", {}).get("family", DEFAULT_FAMILY))
        model = load_document(document)
        bits = document.get("metadata", {}).get("bits")
        if not bits:
            raise ConfigError(f"{path}: metadata.bits is missing; cannot match its accuracy rows")
        network_name = path.name[:-len(suffix)]
        name = network_name + folder_suffix
        trained = training_row(results, network_name, base_seed)
        provenance = {
            "training_data": f"synthetic profiles of workbench.data.signals, run seed {base_seed} "
                             f"({sizes['train_profiles']} training profiles, split seed {sizes['train_seed']}; "
                             f"{sizes['val_profiles']} validation profiles)",
            "training_seed": base_seed,
            "epochs": f"{trained['epochs']} run, best {trained['best_epoch']} (validation loss "
                      f"{float(trained['best_val_loss']):.5f})",
            "threshold_rule": "1% false alarms on the empty validation profiles",
            "test_sets": f"{sizes['test_profiles']} profiles per condition, "
                         f"{'lockbox' if lockbox else 'development'} test seeds",
            "source": source or f"{results.name} (experiments/run_all.py results)",
        }
        if model.refinement is not None:
            provenance["refinement"] = ("learned by run_all's hybrids stage on the training profiles around this "
                                        "network's arg-max (tables/hybrid_refinements.csv); no test data")
        synthesised = lanes and model.refinement is None  # hybrids: experiments/synth_hybrid.py
        card = model_card.build_card(name, model, bits, provenance, accuracy_rows(results, method, stem, bits, base_seed),
                                     hardware(name, model.network, lanes, timeout_s) if synthesised else {})
        with atomic_folder(out / name) as folder:
            (folder / model_card.DOCUMENT_FILE).write_text(json.dumps(document, indent=1))
            (folder / model_card.CARD_FILE).write_text(json.dumps(card, indent=1))
            (folder / model_card.README_FILE).write_text(model_card.card_markdown(card))
        print(f"published {out / name}", flush=True)
        cards.append(card)
    figure = write_design_space(cards, reference_point(results), out)
    atomic_write_text(out / model_card.README_FILE, index_markdown(cards, figure))
    return cards


def design_point(card: dict[str, Any]) -> dict[str, Any]:
    """A published model as a point of the design space: its LUTs per added lane (Yosys; absent when not
    synthesised) and its efficiency and RMSE ratio to BR8 at the SNR-sweep conditions."""
    rows = {row["condition"]: row for row in card["accuracy"]}
    point = {"name": card["name"], "kind": "network" if card["network"]["refinement"] is None else "HYBRID",
             "bits": card["bits"], "topology": card["network"]["topology"],
             "macs_per_pixel": card["network"]["macs_per_pixel"],
             "luts_per_lane": card["hardware"].get("luts_per_added_lane", "")}
    for condition in SNR_SUMMARY:
        point[f"efficiency_{condition}"] = rows.get(condition, {}).get("efficiency", "")
        point[f"rmse_ratio_{condition}"] = rows.get(condition, {}).get("rmse_ratio", "")
    return point


def reference_point(results: Path) -> dict[str, Any] | None:
    """BR8 as a point: the integer hardware's LUTs per added lane (the hdl stage's real Yosys rows of
    `br8_int`) and the float BR8's efficiency (its integer twin is within 0.2% of it on validation,
    docs/hdl.md); None, with a note, when the run has no such rows."""
    hardware_table = results / "tables" / "hardware.csv"
    if not hardware_table.is_file():
        print(f"note: {hardware_table} missing: the design space has no BR8 point", flush=True)
        return None
    synthesised = sorted((row for row in read_csv(hardware_table)
                          if row["model"] == REFERENCE_HARDWARE and row["method"] == "yosys"), key=lambda row: row["lanes"])
    if len(synthesised) < 2:
        print(f"note: {hardware_table} has no two Yosys rows of {REFERENCE_HARDWARE}: the design space has no "
              "BR8 point", flush=True)
        return None
    first, last = synthesised[0], synthesised[-1]
    rows = {row["condition"]: row for row in read_csv(results / "tables" / "accuracy_classical.csv")
            if row["method"] == REFERENCE_METHOD}
    point = {"name": "BR8 (integer hardware; float BR8's accuracy)", "kind": "classical",
             "luts_per_lane": round((last["luts"] - first["luts"]) / (last["lanes"] - first["lanes"]))}
    point.update({f"efficiency_{c}": rows.get(c, {}).get("efficiency", "") for c in SNR_SUMMARY})
    return point


def write_design_space(cards: list[dict[str, Any]], reference: dict[str, Any] | None, out: Path) -> Path | None:
    """`design_space.csv` (every published model, and BR8 when known) and its figure, efficiency against LUTs
    per added lane (issue 12); the figure's path, None when no model was synthesised."""
    points = [design_point(card) for card in cards]
    tables.write_csv(points + ([reference] if reference else []), out / DESIGN_SPACE_CSV, DESIGN_SPACE_COLUMNS)
    return plot_efficiency_vs_luts(points, reference, ["snr_16", "snr_64"], out / DESIGN_SPACE_FIGURE,
                                   "Published designs: efficiency against hardware cost")


def index_markdown(cards: list[dict[str, Any]], figure: Path | None) -> str:
    """`models/README.md`: one line per published network, then the design-space figure when drawn."""
    lines = ["# Pre-trained networks", "",
             "Each folder holds a `qnn-int` document (`model.json`), its model card (`README.md`, and `card.json` "
             "for programs) and was written by `experiments/publish_models.py` from a run_all results folder. "
             "`tests/test_published_models.py` checks every card against its document and runs every network "
             "bit-exactly in the golden model and Keras integer mode.", "",
             f"Source: {cards[0]['provenance']['source']}; training seed {cards[0]['provenance']['training_seed']}, "
             "one network per design (the run seed's). A `_hybrid` model is a HYBRID (`qnn-int/2`): its network "
             "detects, an integer refinement on the raw input locates (`docs/heads.md`).", "",
             "| model | bits | topology | MACs/pixel | LUTs, 1 lane | RMSE ratio to BR8 at SNR 8 / 16 / 32 / 64 |",
             "|---|---|---|---|---|---|"]
    for card in cards:
        ratios = {row["condition"]: row["rmse_ratio"] for row in card["accuracy"]}
        one_lane = card["hardware"].get("lanes_1", {}).get("luts", "-")
        lines.append(f"| [`{card['name']}`]({card['name']}/README.md) | {card['bits']} | `{card['network']['topology']}` "
                     f"| {card['network']['macs_per_pixel']} | {one_lane} | "
                     + " / ".join(number_cell(ratios.get(c), 2, fixed=True) for c in SNR_SUMMARY) + " |")
    if figure is not None:
        lines += ["", f"Efficiency (RMSE over the Cramér–Rao bound; 1 is the bound) against LUTs per added lane, "
                      f"BR8's integer hardware as the star (numbers in `{DESIGN_SPACE_CSV}`):", "",
                  f"![design space]({figure.name})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a run_all results folder (study mode preferred)")
    parser.add_argument("--out", type=Path, default=ROOT / "models", help="where the model folders go (default models/)")
    parser.add_argument("--lanes", default="1,2", help="lane counts to synthesise with Yosys (default 1,2; '' skips)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per Yosys run (default 1800)")
    parser.add_argument("--seed", type=int, default=2023, help="the run's base seed (run_all --seed; default 2023): "
                                                               "its networks are published")
    parser.add_argument("--source", default=None,
                        help="how the cards name the run (default: the results folder's name)")
    args = parser.parse_args(argv)
    try:
        lanes = tuple(int(item) for item in args.lanes.split(",") if item.strip())
    except ValueError:
        parser.error(f"--lanes {args.lanes!r}: expected comma-separated lane counts such as 1,2")
    publish(args.results, args.out, lanes, args.timeout, args.seed, args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())

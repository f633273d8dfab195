"""The pre-trained networks under `models/`: each card states its document's structure, and each network runs
bit-exactly in the golden model and Keras integer mode; the publisher writes complete folders or none."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qat_fixtures import mutate_keras, observable_mutation  # noqa: E402
from workbench.data import signals  # noqa: E402
from workbench.errors import ConfigError  # noqa: E402
from workbench.evaluation import tables  # noqa: E402
from workbench.nn.integer_mode import integer_scores, model_from_document  # noqa: E402
from workbench.nn.models import format_topology, parse_topology  # noqa: E402
from workbench.qnn import golden, golden_v2, model_card  # noqa: E402
from workbench.qnn.contract_v2 import hybrid_document, load_document  # noqa: E402
from workbench.qnn.randnet import random_document, random_refinement  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(path.parent for path in (ROOT / "models").glob(f"*/{model_card.CARD_FILE}"))
PROFILES = 96


def test_the_studys_networks_are_published():
    names = {folder.name for folder in MODELS}
    assert {"qat_8-8", "qat_4-4", "qat_3-3", "qat_2-2", "qat_4-4_hybrid"} <= names, names
    assert (ROOT / "models" / model_card.README_FILE).is_file()


@pytest.mark.parametrize("folder", MODELS, ids=[folder.name for folder in MODELS])
def test_card_states_its_documents_structure(folder):
    card, model = model_card.read_card(folder)
    assert card["network"] == model_card.network_facts(model)
    assert card["network"]["macs_per_pixel"] == sum(layer["macs_per_pixel"] for layer in card["network"]["layers"]
                                                     if layer["type"] != "requantizer")
    assert format_topology(parse_topology(card["network"]["topology"])) == card["network"]["topology"]
    assert card["bits"] == model.document["metadata"]["bits"]
    assert (model.refinement is not None) == folder.name.endswith("_hybrid")
    snrs = {row["condition"] for row in card["accuracy"]}
    assert {"snr_8", "snr_16", "snr_32", "snr_64"} <= snrs
    assert model.refinement is not None or card["hardware"]["lanes_1"]["luts"] > 0
    assert (folder / model_card.README_FILE).read_text() == model_card.card_markdown(card)


@pytest.mark.parametrize("folder", MODELS, ids=[folder.name for folder in MODELS])
def test_published_network_is_bit_exact_in_keras_integer_mode(folder):
    """Keras integer mode's scores equal the golden model's; the head (the network's own, or a hybrid's
    refinement on the raw profile) applied to them gives the golden model's (found, pos)."""
    _, document = model_card.read_card(folder)
    network = document.network
    profiles, _ = signals.generate(signals.preset("mixed", bits=network.input_bits), PROFILES, seed=11)
    profiles = profiles.astype(np.int64)
    model = model_from_document(network.document)
    reference = golden_v2.run_golden(document, profiles)
    ours = integer_scores(model, profiles)
    np.testing.assert_array_equal(ours, reference.scores)
    if document.refinement is None:
        found, pos = golden.peak_head(network.head, ours)
    else:
        found, pos = golden_v2.hybrid_head(document.refinement, network.head.threshold, network.input_bits,
                                           profiles, ours)
    np.testing.assert_array_equal(found, reference.found)
    np.testing.assert_array_equal(pos, reference.pos)
    assert ours.size == PROFILES * profiles.shape[1]
    assert reference.found.sum() > PROFILES // 2  # the network detects lines on this data
    mutate_keras(model, network.document, observable_mutation(network.document, profiles))
    assert np.sum(integer_scores(model, profiles) != reference.scores) > 0  # negative control


def _fake_results(folder: Path, document: dict, rows: int = 4, hybrid: dict | None = None) -> Path:
    """A results folder with the tables and the documents the publisher reads."""
    (folder / "models").mkdir(parents=True)
    (folder / "tables").mkdir()
    (folder / "models" / "qat_4-4.json").write_text(json.dumps(document))
    if hybrid is not None:
        (folder / "models" / "qat_4-4.hybrid.json").write_text(json.dumps(hybrid))
    (folder / "models" / "qat_4-4.log.json").write_text("{}")

    def write(name: str, header: list[str], body: list[list]) -> None:
        with (folder / "tables" / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)

    write("datasets.csv", ["split", "condition", "seed", "n"],
          [["train", "mixed", 2023, 500], ["val", "mixed", 2024, 200], ["lockbox", "snr_8", 99, 300]])
    write("training.csv", ["seed", "model", "bits", "epochs", "best_epoch", "best_val_loss"],
          [[2023, "qat_4-4", "4/4", 12, 9, 0.0021], [2024, "qat_4-4", "4/4", 10, 7, 0.0025]])
    header = ["seed", "method", "bits", "condition", "snr", "rmse_px", "rmse_ratio", "efficiency"]
    write("seeds_nn.csv", header,
          [[2023 + (k % 2), "nn_qat", "4/4", f"snr_{8 * 2 ** (k // 2)}", 8, 0.1 + k, 1.5, 1.2] for k in range(rows)])
    write("seeds_hybrid.csv", header, [[2023, "hybrid_adaptive", "4/4", "snr_8", 8, 0.05, 0.9, 1.05]])
    write("hardware.csv", ["model", "method", "lanes", "luts"],
          [["br8_int", "yosys", 1, 890], ["br8_int", "yosys", 4, 1580], ["br8_int", "yosys-scaled", 32, 8000],
           ["qat_4-4", "yosys", 1, 6000]])
    write("accuracy_classical.csv", ["method", "bits", "condition", "snr", "efficiency"],
          [["br8", "", "snr_16", 16, 1.21], ["br8", "", "snr_64", 64, 1.19], ["cog", "", "snr_16", 16, 3.0]])
    return folder


def test_publisher_writes_card_from_the_run_seeds_rows(tmp_path):
    rng = np.random.default_rng(5)
    document = random_document(rng, input_bits=8)
    document["metadata"] = {"bits": "4/4"}
    hybrid = hybrid_document(document, random_refinement(rng, adaptive=True))
    results = _fake_results(tmp_path / "results", document, hybrid=hybrid)
    out = tmp_path / "models"
    subprocess.run([sys.executable, str(ROOT / "experiments" / "publish_models.py"), str(results), "--out", str(out),
                    "--lanes", ""], check=True, capture_output=True, text=True)
    card, _ = model_card.read_card(out / "qat_4-4")
    assert card["network"] == model_card.network_facts(load_document(document))
    assert [row["condition"] for row in card["accuracy"]] == ["snr_8", "snr_16"]  # seed 2023's rows only
    assert card["provenance"]["training_seed"] == 2023
    assert "lockbox" in card["provenance"]["test_sets"]
    assert card["provenance"]["epochs"].startswith("12 run, best 9")  # seed 2023, not 2024
    assert "qat_4-4" in (out / model_card.README_FILE).read_text()
    assert sorted(path.name for path in (out / "qat_4-4").iterdir()) == ["README.md", "card.json", "model.json"]
    card, model = model_card.read_card(out / "qat_4-4_hybrid")
    assert model.refinement is not None and card["network"]["refinement"]["kind"] == "adaptive"
    assert [(row["condition"], row["rmse_ratio"]) for row in card["accuracy"]] == [("snr_8", 0.9)]
    assert card["hardware"] == {} and "HYBRID" in (out / "qat_4-4_hybrid" / "README.md").read_text()
    space = {row["name"]: row for row in tables.read_csv(out / "design_space.csv")}
    assert space["qat_4-4_hybrid"]["kind"] == "HYBRID" and space["qat_4-4_hybrid"]["efficiency_snr_8"] == 1.05
    br8 = space["BR8 (integer hardware; float BR8's accuracy)"]
    assert (br8["luts_per_lane"], br8["efficiency_snr_16"], br8["efficiency_snr_64"]) == (230, 1.21, 1.19)
    assert not (out / "design_space.png").exists()  # nothing synthesised (--lanes ''): no figure


def test_publisher_reads_a_family_networks_own_rows(tmp_path):
    document = random_document(np.random.default_rng(6), input_bits=8)
    document["metadata"] = {"bits": "4/4", "family": "reach"}
    results = _fake_results(tmp_path / "results", dict(document, metadata={"bits": "4/4"}))
    (results / "models" / "qat_4-4_reach.json").write_text(json.dumps(document))
    with (results / "tables" / "seeds_nn.csv").open("a") as handle:
        handle.write("2023,nn_qat_reach,4/4,snr_8,8,0.09,1.1,1.3\n")
    with (results / "tables" / "training.csv").open("a") as handle:
        handle.write("2023,qat_4-4_reach,4/4,20,15,0.0019\n")
    out = tmp_path / "models"
    subprocess.run([sys.executable, str(ROOT / "experiments" / "publish_models.py"), str(results), "--out", str(out),
                    "--lanes", ""], check=True, capture_output=True, text=True)
    card, _ = model_card.read_card(out / "qat_4-4_reach")
    assert [(row["condition"], row["rmse_ratio"]) for row in card["accuracy"]] == [("snr_8", 1.1)]  # not nn_qat's
    assert card["provenance"]["epochs"].startswith("20 run, best 15")


def test_publisher_names_the_missing_rows_and_leaves_no_folder(tmp_path):
    document = random_document(np.random.default_rng(5), input_bits=8)
    document["metadata"] = {"bits": "3/3"}  # no rows for 3/3 in the tables
    results = _fake_results(tmp_path / "results", document)
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        import publish_models
    finally:
        sys.path.remove(str(ROOT / "experiments"))
    out = tmp_path / "models"
    with pytest.raises(ConfigError, match="'3/3'"):
        publish_models.publish(results, out, lanes=(), timeout_s=10, base_seed=2023)
    assert not out.exists() or not any(out.iterdir())


def test_card_reader_names_a_foreign_file(tmp_path):
    (tmp_path / model_card.CARD_FILE).write_text(json.dumps({"format": "something/9"}))
    with pytest.raises(ConfigError, match="something/9"):
        model_card.read_card(tmp_path)
    with pytest.raises(ConfigError, match="no card.json"):
        model_card.read_card(tmp_path / "absent")


def test_design_space_figure_draws_the_synthesised_points_and_skips_when_none_is(tmp_path):
    from matplotlib.image import imread

    from workbench.evaluation.plots import plot_efficiency_vs_luts

    points = [{"name": "a", "kind": "network", "luts_per_lane": 5000, "efficiency_snr_16": 1.5},
              {"name": "b", "kind": "HYBRID", "luts_per_lane": "", "efficiency_snr_16": 1.1}]
    reference = {"name": "BR8", "luts_per_lane": 230, "efficiency_snr_16": 1.2}
    path = plot_efficiency_vs_luts(points, reference, ["snr_16"], tmp_path / "space.png", "t")
    image = imread(path)
    assert image.shape[0] > 300 and image.std() > 0.05  # a drawn figure, not a blank canvas
    assert plot_efficiency_vs_luts(points[1:], reference, ["snr_16"], tmp_path / "none.png", "t") is None
    assert not (tmp_path / "none.png").exists()

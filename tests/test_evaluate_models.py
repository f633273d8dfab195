"""`workbench evaluate --models`: networks beside the classical methods, the same rows `tables.evaluate` computes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.data.datasets import Dataset, load_or_generate
from workbench.data.signals import preset
from workbench.detectors.interface import calibrate
from workbench.evaluation.tables import evaluate, read_csv, write_csv
from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.contract_v2 import hybrid_document
from workbench.qnn.detector import golden_detector, hybrid_detector
from workbench.qnn.refinement import REFINEMENTS, AdaptiveRefinement, named_refinement
from workbench.qnn.randnet import random_document

DRAWS = 40


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Dataset]:
    """A small test set (snr_16) and a validation set (mixed) of 64-pixel 8-bit profiles, disjoint seeds."""
    folder = tmp_path_factory.mktemp("data")
    test = load_or_generate(preset("snr_16", length=64), 21, 300, folder, condition="snr_16")
    val = load_or_generate(preset("mixed", length=64), 22, 400, folder, condition="mixed-val")
    return test, val


@pytest.fixture()
def document(tmp_path: Path) -> Path:
    """A one-layer network that finds lines: a [1, 2, 1] smoothing FIR as its score, parabolic head."""
    layer = {"type": "qconv1d", "name": "conv0", "kernel_size": 3, "in_channels": 1, "out_channels": 1,
             "weight_bits": 3, "weights": [[[1]], [[2]], [[1]]], "bias": [0]}
    doc = fill_ranges({"format": "qnn-int/1", "input": {"bits": 8}, "layers": [layer], "metadata": {"bits": "3/-"},
                       "head": {"type": "peak", "refine": "parabolic", "window": 1, "threshold": 140, "frac_bits": 6}})
    path = tmp_path / "qat.json"
    path.write_text(json.dumps(doc))
    return path


def expected_lines(detectors: list, test: Dataset, folder: Path) -> list[str]:
    """The accuracy.csv lines `tables.evaluate` computes, through the same CSV writer."""
    rows, _ = evaluate(detectors, {test.condition: test}, seed=0, draws=DRAWS, s_curve_conditions=(test.condition,))
    return write_csv(rows, folder / "expected.csv").read_text().splitlines()


def run_evaluate(test: Dataset, val: Dataset, out: Path, *extra: str) -> list[str]:
    """The accuracy.csv lines `workbench evaluate` writes (header first)."""
    assert main(["evaluate", str(test.path), "--validation", str(val.path), "--draws", str(DRAWS),
                 "--out", str(out), *extra]) == 0
    return (out / "accuracy.csv").read_text().splitlines()


def test_a_document_keeps_its_threshold_and_matches_tables_evaluate(tmp_path: Path, data: tuple, document: Path) -> None:
    test, val = data
    lines = run_evaluate(test, val, tmp_path / "e", "--methods", "argmax", "--models", str(document))
    assert [line.split(",")[0] for line in lines] == ["method", "argmax", "qat"]
    detector = golden_detector("qat", load_network(document), "3/-")
    want = expected_lines([detector], test, tmp_path)
    assert [lines[0], lines[2]] == want
    row = read_csv(tmp_path / "e" / "accuracy.csv")[1]
    assert row["bits"] == "3/-" and row["n"] == len(test) and row["n_good"] > len(test) // 2  # it finds lines
    choices = json.loads((tmp_path / "e" / "choices.json").read_text())
    assert choices["qat"] == {"threshold": 140.0, "source": "document"}
    other = expected_lines([calibrate(detector, val.profiles[val.truth["empty"]], integer=True)], test, tmp_path)
    assert other != want  # negative control: another threshold gives other rows
    assert (tmp_path / "e" / "s_curve.csv").exists() and (tmp_path / "e" / "examples.png").exists()


def test_recalibrate_sets_the_documents_threshold_on_validation(tmp_path: Path, data: tuple, document: Path) -> None:
    test, val = data
    lines = run_evaluate(test, val, tmp_path / "e", "--methods", "none", "--models", str(document), "--recalibrate")
    detector = calibrate(golden_detector("qat", load_network(document), "3/-"), val.profiles[val.truth["empty"]],
                         integer=True)
    assert lines == expected_lines([detector], test, tmp_path) and len(lines) == 2
    choices = json.loads((tmp_path / "e" / "choices.json").read_text())
    assert choices["qat"] == {"threshold": detector.threshold, "source": "validation"}
    assert detector.threshold != load_network(document).head.threshold


def test_a_keras_model_is_calibrated_on_validation(tmp_path: Path, data: tuple) -> None:
    from workbench.nn.detectors import float_detector, model_scores
    from workbench.nn.models import build_float_model, default_spec

    test, val = data
    model = build_float_model(default_spec("8/8"))
    model.save(tmp_path / "float.keras")
    lines = run_evaluate(test, val, tmp_path / "e", "--methods", "none", "--models", str(tmp_path / "float.keras"))
    detector = calibrate(float_detector("float", model_scores(model)), val.profiles[val.truth["empty"]])
    assert lines == expected_lines([detector], test, tmp_path) and len(lines) == 2


def test_bad_models_exit_2_with_one_line(tmp_path: Path, data: tuple, document: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    test, val = data
    no_empty = load_or_generate(preset("mixed", length=64, empty_fraction=0.0), 23, 200, tmp_path, condition="full")
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps(random_document(np.random.default_rng(5), input_bits=12)))
    cases = [
        ([str(test.path), "--validation", str(no_empty.path), "--methods", "none", "--models", str(document),
          "--recalibrate"], "needs empty profiles in the validation set"),
        ([str(test.path), "--validation", str(val.path), "--models", str(test.path)], "neither a .keras"),
        ([str(test.path), "--validation", str(val.path), "--models", str(deep)], "12-bit input but the datasets are 8-bit"),
        ([str(test.path), "--validation", str(val.path), "--methods", "none"], "nothing to evaluate"),
        ([str(test.path), "--validation", str(val.path), "--methods", "none", "--models", str(document),
          str(document)], "repeat"),
    ]
    for args, phrase in cases:
        out = tmp_path / "out"
        assert main(["evaluate", *args, "--draws", str(DRAWS), "--out", str(out)]) == 2, phrase
        err = capsys.readouterr().err.strip()
        assert phrase in err and "\n" not in err, err
        assert not out.exists()


def test_a_hybrid_spec_is_evaluated_beside_its_network(tmp_path: Path, data: tuple, document: Path) -> None:
    test, val = data
    lines = run_evaluate(test, val, tmp_path / "e", "--methods", "none", "--models", str(document),
                         f"hybrid:br8:{document}")
    assert [line.split(",")[0] for line in lines] == ["method", "qat", "hybrid_br8_qat"]
    network = load_network(document)
    hybrid = hybrid_detector("hybrid_br8_qat", network, named_refinement("br8"), "3/-")
    assert lines[2] == expected_lines([hybrid], test, tmp_path)[1]
    assert lines[1].split(",")[5] != lines[2].split(",")[5]  # control: the refinement, not the head, locates


def test_a_qnn_int_2_document_is_evaluated_as_its_hybrid(tmp_path: Path, data: tuple, document: Path) -> None:
    test, val = data
    adaptive = AdaptiveRefinement("adaptive", (REFINEMENTS["tri3"], REFINEMENTS["dog2"]), (30,), (1, 0))
    v2 = tmp_path / "qat.hybrid.json"
    v2.write_text(json.dumps(hybrid_document(json.loads(document.read_text()), adaptive)))
    lines = run_evaluate(test, val, tmp_path / "e", "--methods", "none", "--models", str(document), str(v2))
    assert [line.split(",")[0] for line in lines] == ["method", "qat", "hybrid_adaptive_qat.hybrid"]
    hybrid = hybrid_detector("hybrid_adaptive_qat.hybrid", load_network(document), adaptive, "3/-")
    assert lines[2] == expected_lines([hybrid], test, tmp_path)[1]
    assert lines[1].split(",")[5] != lines[2].split(",")[5]  # control: the refinement, not the head, locates

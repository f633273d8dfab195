"""run_all's `hybrids` stage on small stand-ins for its inputs, and issue 12's hybrid goal.

The stage's rows must be the rows an independent recomputation makes: the adaptive refinement learned with
`learn_adaptive` around the golden model's arg-max on the training line profiles, the hybrid's detections
pooled over the training seeds by `tables.accuracy_row` (what `seed_tables` does for the networks).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest

from experiments.stages import hybrids as stage
from experiments.stages import report as report_stage
from workbench.data.datasets import benchmark_splits, load_stage_splits, write_split_index
from workbench.detectors import classical
from workbench.evaluation import tables
from workbench.evaluation.comparison import DEFAULT_REFERENCE
from workbench.evaluation.goals import hybrid_vs_reference
from workbench.pipeline.stages import RunConfig, StageContext
from workbench.qnn import golden
from workbench.errors import ConfigError
from workbench.qnn.adaptive import describe, learn_network_refinement
from workbench.qnn.adaptive import refinement_record
from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.contract_v2 import load_document
from workbench.qnn.detector import golden_detector, hybrid_detector
from workbench.qnn.golden_v2 import run_golden
from workbench.qnn.refinement import ADAPTIVE_BANK, REFINEMENTS, AdaptiveRefinement, learn_adaptive

RUN_SEED, OTHER_SEED = 3, 4
CONDITIONS = ("mixed", "snr_8", "snr_16", "snr_32", "snr_64")
# (bits, seed) -> smoothing FIR of a one-layer network and its threshold: different per network and seed
NETWORKS = {("4/4", RUN_SEED): ([1, 2, 1], 90), ("8/8", RUN_SEED): ([1, 3, 1], 110),
            ("4/4", OTHER_SEED): ([1, 1, 1], 70), ("8/8", OTHER_SEED): ([2, 3, 2], 150)}
DRAWS = 200


def _document(weights: list[int], threshold: int, bits: str, input_bits: int = 8) -> dict:
    layer = {"type": "qconv1d", "name": "conv0", "kernel_size": 3, "in_channels": 1, "out_channels": 1,
             "weight_bits": 3, "weights": [[[w]] for w in weights], "bias": [0]}
    return fill_ranges({"format": "qnn-int/1", "input": {"bits": input_bits}, "layers": [layer], "metadata": {"bits": bits},
                        "head": {"type": "peak", "refine": "parabolic", "window": 1, "threshold": threshold,
                                 "frac_bits": 6}})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """datasets (an index of small splits) and training (`models/` at the run seed, `models/seed_4/`, an
    ablation document and a training log that the stage must skip)."""
    root = tmp_path_factory.mktemp("hybrids")
    deps = {name: root / name for name in ("datasets", "training")}
    splits = benchmark_splits(1, {"train": 400, "val": 600, "test": 300}, root / "data", conditions=CONDITIONS)
    deps["datasets"].mkdir()
    write_split_index(splits, deps["datasets"])
    models = deps["training"] / "models"
    for (bits, seed), (weights, threshold) in NETWORKS.items():
        folder = models if seed == RUN_SEED else models / f"seed_{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        name = "qat_" + bits.replace("/", "-")
        (folder / f"{name}.json").write_text(json.dumps(_document(weights, threshold, bits)))
        (folder / f"{name}.log.json").write_text(json.dumps({"phases": {}}))
    (models / "ablation").mkdir()
    (models / "ablation" / "qat_4-4_pow2.json").write_text(json.dumps(_document([1, 0, 1], 10, "4/4")))
    _, sticks = _stage_inputs(deps)
    rows = []  # the network-only rows, pooled over the seeds as the training stage pools them
    for bits in ("4/4", "8/8"):
        paths = [models / "qat_4-4.json" if bits == "4/4" else models / "qat_8-8.json"]
        paths.append(models / f"seed_{OTHER_SEED}" / paths[0].name)
        networks = [golden_detector("nn_qat", load_network(path), bits) for path in paths]
        rows += [tables.accuracy_row("nn_qat", bits, c, [n.detect(ds.profiles) for n in networks], ds, sticks[c],
                                     RUN_SEED, DRAWS) for c, ds in splits.test.items()]
    tables.write_csv(rows, deps["training"] / "tables" / "accuracy_nn.csv")
    return deps


def _context(inputs: dict[str, Path], out: Path, mode: str) -> StageContext:
    return StageContext("hybrids", out, inputs, RunConfig(mode, RUN_SEED), {}, logging.getLogger("test"), out.parent)


def _stage_inputs(inputs: dict[str, Path]) -> tuple:
    splits = load_stage_splits(inputs["datasets"])
    reference, _ = classical.tune(DEFAULT_REFERENCE, splits.val)
    sticks = {name: tables.yardstick(ds, reference) for name, ds in splits.test.items()}
    return splits, sticks


def _equal(a: object, b: object) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def test_stage_writes_every_table_with_a_row_per_network_seed_and_condition(inputs: dict[str, Path],
                                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    stage.run(_context(inputs, out, "study"))
    pooled = tables.read_csv(out / "tables" / "accuracy_hybrid.csv")
    assert [(r["method"], r["bits"], r["condition"]) for r in pooled] == [
        ("hybrid_adaptive", bits, c) for bits in ("4/4", "8/8") for c in CONDITIONS]
    assert all(r["reference"] == DEFAULT_REFERENCE and r["paired_n"] > 0 for r in pooled)
    per_seed = tables.read_csv(out / "tables" / "seeds_hybrid.csv")
    assert sorted((r["bits"], r["seed"], r["condition"]) for r in per_seed) == sorted(
        (bits, seed, c) for bits, seed in NETWORKS for c in CONDITIONS)
    refinements = tables.read_csv(out / "tables" / "hybrid_refinements.csv")
    assert sorted((r["network"], r["bits"], r["seed"]) for r in refinements) == sorted(
        ("qat_" + bits.replace("/", "-"), bits, seed) for bits, seed in NETWORKS)
    for record in refinements:  # 7 edges of 8 quantile bins on these profiles, one bank member per bin
        edges, members = str(record["edges"]).split(), record["members"].split()
        assert len(members) == len(edges) + 1 and set(members) <= set(ADAPTIVE_BANK)
    written = sorted(p.relative_to(out / "models").as_posix() for p in (out / "models").rglob("*"))
    assert written == ["qat_4-4.hybrid.json", "qat_8-8.hybrid.json", "seed_4", "seed_4/qat_4-4.hybrid.json",
                       "seed_4/qat_8-8.hybrid.json"]
    for record in refinements:  # each qnn-int/2 document holds the refinement the table records
        folder = out / "models" / ("" if record["seed"] == RUN_SEED else f"seed_{record['seed']}")
        hybrid = load_document(folder / f"{record['network']}.hybrid.json")
        assert hybrid.version == 2 and hybrid.document["metadata"]["bits"] == record["bits"]
        assert refinement_record(hybrid.refinement) == {"edges": str(record["edges"]), "members": record["members"]}
    curves = tables.read_csv(out / "tables" / "s_curve_hybrid.csv")
    assert len(curves) == 2 * tables.S_CURVE_BINS and {c["condition"] for c in curves} == {tables.S_CURVE_CONDITION}
    report = (out / "report" / "hybrids.md").read_text()
    assert "| hybrid_adaptive (8/8-bit) |" in report and "| nn_qat (8/8-bit) |" in report
    # the report stage merges the hybrid rows into its tables and figures, judges the hybrid goal among its
    # verdicts and includes the section
    for name in ("hybrids", "training"):
        (inputs[name] if name == "training" else out).joinpath("stage.json").write_text(
            json.dumps({"stage": name, "key": "k", "seconds": 1}))
    merged = tmp_path / "report"
    report_stage.run(StageContext("report", merged, {"training": inputs["training"], "hybrids": out},
                                  RunConfig("study", RUN_SEED), {}, logging.getLogger("test"), tmp_path))
    text = (merged / "REPORT.md").read_text()
    verdict = next(line for line in text.splitlines() if line.startswith("| HYBRID hybrid_adaptive 4/4:"))
    misses = re.findall(r"missed ([0-9.]+) vs network-only ([0-9.]+)", verdict)
    assert len(misses) == 4 and all(mine == network for mine, network in misses)  # the network's detections
    assert text.index("| HYBRID hybrid_adaptive 4/4:") < text.index("## Accuracy")  # in the Verdicts section
    assert text.count("| hybrid_adaptive (4/4-bit) |") >= 8 and "## Hybrid detectors (issue 12)" in text
    assert len(tables.read_csv(merged / "tables" / "accuracy.csv")) == 2 * len(pooled)  # networks' and hybrids' rows
    assert (merged / "figures" / "rmse_ratio_vs_snr.png").stat().st_size > 0
    assert not (merged / "figures" / "families_miss_rate_vs_snr.png").exists()  # the default family only


def test_rows_equal_an_independent_recomputation_and_a_perturbed_refinement_differs(inputs: dict[str, Path],
                                                                                     tmp_path: Path) -> None:
    splits, sticks = _stage_inputs(inputs)
    networks = stage.network_documents(inputs["training"] / "models", RUN_SEED)
    assert [(seed, path.stem) for seed, path in networks] == [(3, "qat_4-4"), (3, "qat_8-8"), (4, "qat_4-4"),
                                                              (4, "qat_8-8")]
    result = stage.hybrid_tables(networks, splits.train, splits.test, sticks, RUN_SEED, DRAWS, tmp_path)
    line = ~splits.train.truth["empty"]
    bank = tuple(REFINEMENTS[n] for n in ADAPTIVE_BANK)
    detections: dict[str, list] = {}
    perturbed_differs = 0
    for (seed, path), document in zip(networks, result.documents):
        network = load_network(path)
        pixel = np.argmax(golden.scores(network, splits.train.profiles[line]), axis=1)
        refinement = learn_adaptive("adaptive", bank, splits.train.profiles[line], pixel,
                                    splits.train.truth["centre"][line])
        bits = json.loads(path.read_text())["metadata"]["bits"]
        hybrid = hybrid_detector("hybrid_adaptive", network, refinement, bits)
        written = load_document(document)  # the stage's qnn-int/2 document is this hybrid
        assert written.refinement == refinement
        on_file = run_golden(written, splits.test["snr_16"].profiles)
        want_found, want_pos = hybrid.detect(splits.test["snr_16"].profiles)
        assert np.array_equal(on_file.found, want_found) and np.array_equal(on_file.pos, want_pos * 64)
        for condition, dataset in splits.test.items():
            detections.setdefault(f"{bits} {condition}", []).append(hybrid.detect(dataset.profiles))
        # negative control: the bank member of every width bin moved by one changes positions
        moved = dataclasses.replace(refinement, choice=tuple((c + 1) % len(bank) for c in refinement.choice))
        found, pos = hybrid.detect(splits.test["snr_16"].profiles)
        found_moved, pos_moved = hybrid_detector("moved", network, moved, bits).detect(splits.test["snr_16"].profiles)
        assert np.array_equal(found, found_moved)
        perturbed_differs += int(np.count_nonzero(pos[found] != pos_moved[found]))
        # the hybrid detects exactly what the network-only detector detects
        assert np.array_equal(found, golden_detector("net", network, bits).detect(splits.test["snr_16"].profiles)[0])
    assert perturbed_differs > 100
    compared = 0
    for row in result.pooled:
        dataset = splits.test[row["condition"]]
        want = tables.accuracy_row("hybrid_adaptive", row["bits"], row["condition"],
                                   detections[f"{row['bits']} {row['condition']}"], dataset,
                                   sticks[row["condition"]], RUN_SEED, DRAWS)
        assert row["seeds"] == 2
        for column in tables.ACCURACY_COLUMNS:
            assert _equal(row[column], want[column]), (row["bits"], row["condition"], column)
            compared += 1
        moved_row = tables.accuracy_row("hybrid_adaptive", row["bits"], row["condition"],
                                        [(f, p + 0.25) for f, p in detections[f"{row['bits']} {row['condition']}"]],
                                        dataset, sticks[row["condition"]], RUN_SEED, DRAWS)
        assert moved_row["rmse_px"] != row["rmse_px"]  # the comparison sees a change of the positions
    assert compared == 2 * len(CONDITIONS) * len(tables.ACCURACY_COLUMNS)
    assert len(result.seed_rows) == 4 * len(CONDITIONS)


def test_one_seed_rows_are_the_quick_mode_rows_of_evaluate_one(inputs: dict[str, Path], tmp_path: Path) -> None:
    """With one training seed (quick, full) a row is `evaluate_one`'s, the networks' path in those modes."""
    splits, sticks = _stage_inputs(inputs)
    path = inputs["training"] / "models" / "qat_4-4.json"
    result = stage.hybrid_tables([(RUN_SEED, path)], splits.train, splits.test, sticks, RUN_SEED, DRAWS, tmp_path)
    network = load_network(path)
    hybrid = hybrid_detector("hybrid_adaptive", network, learn_network_refinement(network, splits.train), "4/4")
    want, _ = tables.evaluate_one(hybrid, splits.test, RUN_SEED, DRAWS, yardsticks=sticks)
    assert len(result.pooled) == len(want) == len(CONDITIONS)
    for mine, theirs in zip(result.pooled, want):
        assert all(_equal(mine[c], theirs[c]) for c in tables.ACCURACY_COLUMNS), mine["condition"]


def _rows(ratios: dict[str, tuple[float, float, float]], hybrid_miss: float = 0.1, network_miss: float = 0.1) -> list:
    rows = []
    for condition, (ratio, low, high) in ratios.items():
        rows.append({"method": "hybrid_adaptive", "bits": "4/4", "condition": condition, "reference": "br8",
                     "rmse_ratio": ratio, "rmse_ratio_ci_low": low, "rmse_ratio_ci_high": high,
                     "miss_rate": hybrid_miss})
        rows.append({"method": "nn_qat", "bits": "4/4", "condition": condition, "reference": "br8",
                     "rmse_ratio": 2.0, "rmse_ratio_ci_low": 1.9, "rmse_ratio_ci_high": 2.1, "miss_rate": network_miss})
    return rows


GOOD = {"snr_8": (0.92, 0.90, 0.94), "snr_16": (0.91, 0.90, 0.93), "snr_32": (0.95, 0.94, 0.96),
        "snr_64": (0.99, 0.98, 1.01)}


@pytest.mark.parametrize("change, status", [
    ({}, "met"),
    ({"snr_16": (0.97, 0.94, 1.0)}, "undecided"),   # strict at 16: an upper bound of 1 is not below 1
    ({"snr_8": (1.02, 1.0, 1.04)}, "missed"),       # lower bound at 1: not better than BR8
    ({"snr_64": (1.01, 0.99, 1.03)}, "undecided"),  # at 32-64 the ratio rule: point above 1, interval across it
    ({"snr_32": (1.04, 1.02, 1.06)}, "missed"),
])
def test_hybrid_goal_decides_each_snr_by_its_rule(change: dict, status: str) -> None:
    verdict = hybrid_vs_reference(_rows({**GOOD, **change}))
    assert verdict.status == status, verdict.evidence
    assert "HYBRID" in verdict.goal and verdict.evidence.count("missed 0.1000 vs network-only 0.1000") == 4


def test_hybrid_goal_misses_when_the_hybrid_misses_more_lines_and_without_rows() -> None:
    assert hybrid_vs_reference(_rows(GOOD, hybrid_miss=0.11, network_miss=0.1)).status == "missed"
    assert hybrid_vs_reference(_rows(GOOD, hybrid_miss=0.09, network_miss=0.1)).status == "met"
    assert hybrid_vs_reference([r for r in _rows(GOOD) if r["method"] == "nn_qat"]).status == "not measured"
    assert hybrid_vs_reference(_rows(GOOD), bits="8/8").status == "not measured"


def test_bad_inputs_raise_errors_naming_the_value(inputs: dict[str, Path], tmp_path: Path) -> None:
    splits = load_stage_splits(inputs["datasets"])
    deep = load_network(_document([1, 2, 1], 90, "4/4", input_bits=12))
    with pytest.raises(ConfigError, match="training profiles of 8 bits invalid for a network of 12-bit input"):
        learn_network_refinement(deep, splits.train)
    bare = tmp_path / "qat_x.json"
    bare.write_text(json.dumps({k: v for k, v in _document([1, 2, 1], 90, "4/4").items() if k != "metadata"}))
    with pytest.raises(ConfigError, match="has no metadata.bits"):
        stage.document_bits(json.loads(bare.read_text()), bare)
    (tmp_path / "seed_x").mkdir()
    (tmp_path / "seed_x" / "qat_x.json").write_text(bare.read_text())
    with pytest.raises(ConfigError, match="seed_x invalid; allowed seed_<integer seed>"):
        stage.network_documents(tmp_path, RUN_SEED)


def test_describe_names_taps_or_edges_and_members() -> None:
    assert describe(REFINEMENTS["br4"]) == "-1 -1 0 1 1"
    bank = tuple(REFINEMENTS[n] for n in ADAPTIVE_BANK)
    adaptive = AdaptiveRefinement("adaptive", bank, (20, 30), (4, 1, 0))
    assert describe(adaptive) == "edges/64 20 30; members dog2.5 tri4 tri3"


def test_a_family_document_gives_its_own_hybrid_method_and_report_pairs(inputs: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    """A document with `metadata.family` becomes `hybrid_adaptive_<family>`; the default's keeps its name."""
    splits, sticks = _stage_inputs(inputs)
    default = inputs["training"] / "models" / "qat_4-4.json"
    reach = tmp_path / "qat_4-4_reach.json"
    document = _document([1, 3, 2], 100, "4/4")
    reach.write_text(json.dumps({**document, "metadata": {**document["metadata"], "family": "reach"}}))
    result = stage.hybrid_tables([(RUN_SEED, default), (RUN_SEED, reach)], splits.train, splits.test, sticks,
                                 RUN_SEED, DRAWS, tmp_path / "work")
    assert [(r["method"], r["bits"], r["condition"]) for r in result.pooled] == [
        (method, "4/4", c) for method in ("hybrid_adaptive", "hybrid_adaptive_reach") for c in CONDITIONS]
    assert [(r["network"], r["method"]) for r in result.refinements] == [("qat_4-4", "hybrid_adaptive"),
                                                                         ("qat_4-4_reach", "hybrid_adaptive_reach")]
    assert load_document(result.documents[1]).document["metadata"]["family"] == "reach"
    network = load_network(reach)
    hybrid = hybrid_detector("hybrid_adaptive_reach", network, learn_network_refinement(network, splits.train), "4/4")
    want, _ = tables.evaluate_one(hybrid, splits.test, RUN_SEED, DRAWS, yardsticks=sticks)
    mine = [r for r in result.pooled if r["method"] == "hybrid_adaptive_reach"]
    assert all(_equal(a[c], b[c]) for a, b in zip(mine, want) for c in tables.ACCURACY_COLUMNS)
    other = [r for r in result.pooled if r["method"] == "hybrid_adaptive"]
    assert [r["rmse_px"] for r in mine] != [r["rmse_px"] for r in other]  # another network's rows
    network_rows = [{**r, "method": method} for r in result.pooled for method in ("nn_qat", "nn_qat_reach", "nn_x")]
    text = stage.report_markdown(result.pooled, network_rows, [RUN_SEED], 1)
    for label in ("hybrid_adaptive", "hybrid_adaptive_reach", "nn_qat", "nn_qat_reach"):
        assert f"| {label} (4/4-bit) |" in text
    assert "nn_x" not in text
    # the report draws the families' figures from these rows and judges the family's goals
    picked = report_stage.family_rows(result.pooled + network_rows + [{**network_rows[0], "bits": "2/2"}])
    assert sorted({(r["method"], r["bits"]) for r in picked}) == [
        (m, "4/4") for m in ("hybrid_adaptive", "hybrid_adaptive_reach", "nn_qat", "nn_qat_reach")]
    assert report_stage.family_rows([r for r in result.pooled + network_rows if "reach" not in r["method"]]) == []
    deps = {name: tmp_path / name for name in ("training", "hybrids")}
    tables.write_csv(result.pooled, deps["hybrids"] / "tables" / "accuracy_hybrid.csv")
    tables.write_csv([r for r in network_rows if r["method"] != "nn_x"],
                     deps["training"] / "tables" / "accuracy_nn.csv")
    for name, folder in deps.items():
        (folder / "stage.json").write_text(json.dumps({"stage": name, "key": "k", "seconds": 1}))
    merged = tmp_path / "report"
    report_stage.run(StageContext("report", merged, deps, RunConfig("study", RUN_SEED), {}, logging.getLogger("test"),
                                  tmp_path))
    report = (merged / "REPORT.md").read_text()
    for figure in ("families_miss_rate_vs_snr.png", "families_rmse_ratio_vs_snr.png"):
        assert (merged / "figures" / figure).stat().st_size > 0 and f"(figures/{figure})" in report
    assert "| HYBRID hybrid_adaptive_reach 4/4:" in report and "| 4/4 QAT nn_qat_reach RMSE on the lines" in report

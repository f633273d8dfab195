"""The hybrid in hardware (`workbench.hw.hybrid_top`, a `qnn-int/2` document with a fixed refinement) against
the golden model `workbench.qnn.golden_v2`, in MyHDL and in the converted VHDL and Verilog (GHDL, Icarus,
Verilator)."""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from workbench.data import signals
from workbench.errors import ConfigError
from workbench.hdl.package import write_package
from workbench.hdl.network import document_design
from workbench.hw.hybrid_top import build_hybrid_top
from workbench.qnn.contract_v2 import hybrid_document, load_document
from workbench.qnn.randnet import random_document, random_refinement
from workbench.qnn.refinement import REFINEMENTS, AdaptiveRefinement, Refinement
from workbench.verify.harness import latencies, run_design
from hdl_fixtures import passes_in_every_simulator
from workbench.verify.document_check import compare_document, document_vectors

LENGTH = 64
CONFORMANCE_V2 = Path(__file__).parent / "conformance" / "v2"


def network_document(seed: int = 2031, layers: int = 3) -> dict:
    """A network shaped like the trained ones (convolutions of 3 and 5 taps, 4-bit activations), 8-bit input."""
    return random_document(np.random.default_rng(seed), n_weight_layers=layers, max_channels=3, kernel_sizes=(3, 5),
                           input_bits=8, bits=(3, 5), refine="parabolic", frac_bits=6)


def hybrid(refinement: Refinement, seed: int = 2031, threshold: int | None = None, layers: int = 3) -> dict:
    """The `qnn-int/2` document of `network_document(seed, layers)` with `refinement` (and the head's threshold)."""
    doc = network_document(seed, layers)
    if threshold is not None:
        doc["head"]["threshold"] = threshold
    return hybrid_document(doc, refinement)


def noisy_profiles(count: int, seed: int) -> np.ndarray:
    """Generated lines, the first four replaced by edge cases: flat, a peak at either end, two equal peaks."""
    profiles, _ = signals.generate(signals.preset("mixed", length=LENGTH), count, seed=seed)
    profiles[:4] = 0
    profiles[0] = 7
    profiles[1, 0] = profiles[2, -1] = 200
    profiles[3, 10] = profiles[3, 40] = 255
    return profiles.astype(np.int64)


def median_threshold(doc: dict, profiles: np.ndarray) -> int:
    """A threshold that some profiles' peak scores reach and others do not."""
    scores = document_vectors(load_document(doc), profiles).scores
    return int(np.median(scores.max(axis=1)))


@pytest.mark.parametrize("lanes, gaps, name", [(1, 0.0, "br8"), (1, 0.3, "dog2"), (4, 0.0, "br8"), (4, 0.3, "tri4")])
def test_myhdl_equals_golden_v2_with_constant_latency(lanes: int, gaps: float, name: str) -> None:
    profiles = noisy_profiles(14, seed=3)
    refinement = REFINEMENTS[name]
    doc = hybrid(refinement, threshold=median_threshold(hybrid(refinement), profiles))
    model = load_document(doc)
    design = document_design(model, lanes, LENGTH, pipeline_stages=2)
    run = run_design(design, profiles, gap_probability=gaps, seed=1)
    result = compare_document(model, profiles, run)
    assert result.mismatches == 0, result.first_mismatch
    assert (result.scores_compared, result.results_compared) == (14 * LENGTH, 14)
    expected = document_vectors(model, profiles)
    assert 0 < expected.found.sum() < 14  # found and not found both checked
    assert len(set(expected.pos[expected.found] % (1 << refinement.frac_bits))) > 3  # sub-pixel positions
    if not gaps:  # back to back: constant latencies, one result every L / P cycles
        score_latency, result_latency = latencies(run, LENGTH // lanes)
        assert set(score_latency) == {design.latency} and set(result_latency) == {design.result_latency}
        assert run.cycles_per_profile == LENGTH // lanes


def test_a_changed_tap_or_threshold_is_caught() -> None:
    profiles = noisy_profiles(12, seed=5)
    doc = hybrid(REFINEMENTS["dog2"], threshold=-1000)
    model = load_document(doc)
    run = run_design(document_design(model, 1, LENGTH, 1), profiles, gap_probability=0.2, seed=4)
    assert compare_document(model, profiles, run).mismatches == 0
    taps = list(REFINEMENTS["dog2"].taps)
    taps[0], taps[-1] = taps[0] - 1, taps[-1] + 1  # one tap pair changed (antisymmetry kept)
    other = load_document(hybrid(Refinement("dog2", tuple(taps), 6), threshold=-1000))
    wrong = compare_document(other, profiles, run)
    assert wrong.score_mismatches == 0 and wrong.result_mismatches > 0
    higher = load_document(hybrid(REFINEMENTS["dog2"], threshold=median_threshold(doc, profiles)))
    assert compare_document(higher, profiles, run).result_mismatches > 0


@pytest.mark.parametrize("case", ["hybrid_fixed_refinement", "hybrid_equal_distance"])
@pytest.mark.parametrize("lanes", [1, 2])
def test_conformance_cases_exactly(case: str, lanes: int) -> None:
    data = json.loads((CONFORMANCE_V2 / f"{case}.json").read_text())
    model = load_document(data["document"])
    profiles = np.array(data["profiles"], dtype=np.int64)
    run = run_design(document_design(model, lanes, profiles.shape[1], 1), profiles, gap_probability=0.3, seed=2)
    expected = data["expected"]
    assert run.scores.tolist() == expected["scores"]
    assert run.found.tolist() == expected["found"] and run.pos.tolist() == expected["pos"]
    assert len(run.pos) == len(profiles) >= 2


@pytest.mark.parametrize("adaptive", [False, True])
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_networks_and_refinements(adaptive: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    doc = random_document(rng, max_channels=3, kernel_sizes=(1, 3, 5))
    bits = doc["input"]["bits"]
    refinement = random_refinement(rng, adaptive=adaptive)
    model = load_document(hybrid_document(doc, refinement))
    length = 12 + 4 * int(rng.integers(0, 3))
    profiles = rng.integers(0, 1 << bits, size=(10, length))
    profiles[:3] = rng.integers(0, 3, size=(3, length))
    lanes = int(rng.choice([1, 2, 4]))
    run = run_design(document_design(model, lanes, length, 2), profiles, gap_probability=0.4, seed=seed % 1000)
    result = compare_document(model, profiles, run)
    assert result.mismatches == 0, (refinement, result.first_mismatch)
    assert result.compared == 10 * length + 10


def test_bad_settings_are_named() -> None:
    network = load_document(network_document()).network
    adaptive = json.loads((CONFORMANCE_V2 / "hybrid_adaptive_bins.json").read_text())["document"]
    assert document_design(load_document(adaptive), 1, LENGTH).name == "adaptive_detector"
    assert document_design(load_document(network_document()), 1, LENGTH).name == "peak_detector"  # no refinement
    br8 = REFINEMENTS["br8"].taps
    with pytest.raises(ConfigError, match=r"taps \(1, 0, -1\) invalid"):
        build_hybrid_top(network, (1, 0, -1), 6, 1, LENGTH)
    with pytest.raises(ConfigError, match="frac_bits 17 invalid"):
        build_hybrid_top(network, br8, 17, 1, LENGTH)
    with pytest.raises(ConfigError, match="lanes is 33"):
        build_hybrid_top(network, br8, 6, 33, LENGTH)
    with pytest.raises(ConfigError, match="profile length 64 is not a positive multiple of the 3 lanes"):
        build_hybrid_top(network, br8, 6, 3, LENGTH)
    with pytest.raises(ConfigError, match="pipeline_stages is 0"):
        build_hybrid_top(network, br8, 6, 1, LENGTH, pipeline_stages=0)


@pytest.mark.parametrize("lanes", [1, 4])
def test_converted_hdl_equals_golden_v2_in_every_simulator(tmp_path, lanes: int) -> None:
    profiles = noisy_profiles(6, seed=7)
    refinement = REFINEMENTS["br8"]
    doc = hybrid(refinement, threshold=median_threshold(hybrid(refinement, layers=2), profiles), layers=2)
    model = load_document(doc)
    design = document_design(model, lanes, LENGTH, pipeline_stages=2)
    vectors = document_vectors(model, profiles)
    assert 0 < vectors.found.sum() < 6
    package = write_package(design, tmp_path / "hdl", vectors)
    other = load_document(hybrid(Refinement("br8", refinement.taps, 5), threshold=int(model.network.head.threshold),
                                 layers=2))
    bad = write_package(design, tmp_path / "bad", document_vectors(other, profiles))  # another F: a negative control
    assert vectors.value_count == 6 * LENGTH + 12
    passes_in_every_simulator(package, bad.vectors, vectors.value_count)


def test_simulate_and_hdl_commands_take_a_v2_document(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main

    path = tmp_path / "hybrid.json"
    path.write_text(json.dumps(hybrid(REFINEMENTS["br8"], layers=2)))
    assert main(["simulate", "--model", str(path), "--preset", "mixed", "--length", "64", "--lanes", "2",
                 "--profiles", "4", "--gaps", "0.2", "--pipeline-stages", "1"]) == 0
    out = capsys.readouterr().out
    assert "top hybrid_detector" in out and "compared    256 scores, 4 (found, pos) results" in out
    assert "mismatches  0 (0 scores, 0 results)" in out
    assert main(["hdl", "--model", str(path), "--out", str(tmp_path / "hdl"), "--length", "32", "--profiles", "3",
                 "--pipeline-stages", "1"]) == 0
    assert "top hybrid_detector" in capsys.readouterr().out
    assert "hybrid_detector" in (tmp_path / "hdl" / "verilog" / "hybrid_detector.v").read_text()
    adaptive = tmp_path / "adaptive.json"
    adaptive.write_text(json.dumps(json.loads((CONFORMANCE_V2 / "hybrid_adaptive_bins.json").read_text())["document"]))
    assert main(["simulate", "--model", str(adaptive), "--preset", "mixed", "--length", "64", "--profiles", "2"]) == 0
    assert "top adaptive_detector" in capsys.readouterr().out
    assert main(["simulate", "--model", str(adaptive), "--preset", "mixed", "--length", "64", "--lanes", "2",
                 "--profiles", "2"]) == 0
    assert "mismatches  0 (0 scores, 0 results)" in capsys.readouterr().out


# The ADAPTIVE refinement (`workbench.hw.adaptive_top`)

def adaptive_document(choice: tuple[int, ...] | None = None, edges: tuple[int, ...] | None = None) -> dict:
    """The study's bank and learned-style edges (the v2 case `hybrid_adaptive_network`) on `network_document()`,
    the threshold at the median peak score of `noisy_profiles(12, 9)`."""
    case = json.loads((CONFORMANCE_V2 / "hybrid_adaptive_network.json").read_text())
    refinement = load_document(case["document"]).refinement
    refinement = AdaptiveRefinement(refinement.name, refinement.bank, edges or refinement.edges,
                                    choice or refinement.choice)
    doc = hybrid_document(network_document(), refinement)
    doc["head"]["threshold"] = median_threshold(doc, noisy_profiles(12, seed=9))
    return doc


@pytest.mark.parametrize("lanes", [1, 4])
def test_adaptive_myhdl_equals_golden_v2_and_a_changed_choice_is_caught(lanes: int) -> None:
    profiles = noisy_profiles(12, seed=9)
    doc = adaptive_document()
    model = load_document(doc)
    design = document_design(model, lanes, LENGTH, 2)
    run = run_design(design, profiles, gap_probability=0.3, seed=5)
    result = compare_document(model, profiles, run)
    assert result.mismatches == 0, result.first_mismatch
    assert result.compared == 12 * LENGTH + 12
    expected = document_vectors(model, profiles)
    assert 0 < expected.found.sum() < 12
    bins = model.refinement.bins(profiles, np.argmax(expected.scores, axis=1))
    assert len({model.refinement.choice[b] for b in bins[expected.found]}) >= 2  # several members locate
    steady = run_design(design, profiles, seed=5)
    assert set(latencies(steady, LENGTH // lanes)[1]) == {design.result_latency}
    assert steady.cycles_per_profile == LENGTH // lanes
    other = load_document(adaptive_document(choice=tuple((c + 1) % 5 for c in model.refinement.choice)))
    assert compare_document(other, profiles, run).result_mismatches > 0  # every bin's member changed


@pytest.mark.parametrize("case", ["hybrid_adaptive_bins", "hybrid_adaptive_network"])
@pytest.mark.parametrize("lanes", [1, 2])
def test_adaptive_conformance_cases_exactly(case: str, lanes: int) -> None:
    data = json.loads((CONFORMANCE_V2 / f"{case}.json").read_text())
    model = load_document(data["document"])
    profiles = np.array(data["profiles"], dtype=np.int64)
    run = run_design(document_design(model, lanes, profiles.shape[1], 1), profiles, gap_probability=0.3, seed=2)
    expected = data["expected"]
    assert run.scores.tolist() == expected["scores"]
    assert run.found.tolist() == expected["found"] and run.pos.tolist() == expected["pos"]
    assert len(run.pos) == len(profiles) >= 2


def test_adaptive_edge_tie_negative_control() -> None:
    data = json.loads((CONFORMANCE_V2 / "hybrid_adaptive_bins.json").read_text())
    model = load_document(data["document"])
    profiles = np.array(data["profiles"], dtype=np.int64)
    run = run_design(document_design(model, 1, profiles.shape[1], 1), profiles, seed=2)
    moved = copy.deepcopy(data["document"])
    moved["head"]["refinement"]["edges"] = [40, 61]  # the tie 64 * 450 == 60 * 480 no longer counts
    result = compare_document(load_document(moved), profiles, run)
    assert (result.score_mismatches, result.result_mismatches) == (0, 1)


def test_adaptive_bad_settings_are_named() -> None:
    model = load_document(adaptive_document())
    with pytest.raises(ConfigError, match=r"lanes is 33; allowed: an integer in \[1, 32\]"):
        document_design(model, 33, LENGTH)
    with pytest.raises(ConfigError, match="profile length 64 is not a positive multiple of the 3 lanes"):
        document_design(model, 3, LENGTH)


@pytest.mark.parametrize("lanes", [1, 4])
def test_adaptive_converted_hdl_equals_golden_v2_in_every_simulator(tmp_path, lanes: int) -> None:
    profiles = noisy_profiles(6, seed=9)
    model = load_document(adaptive_document())
    design = document_design(model, lanes, LENGTH, 2)
    vectors = document_vectors(model, profiles)
    assert vectors.found.sum() > 0
    package = write_package(design, tmp_path / "hdl", vectors)
    wrong = dataclasses.replace(vectors, pos=vectors.pos + vectors.found)  # every found position 1/64 px off
    bad = write_package(design, tmp_path / "bad", wrong)
    passes_in_every_simulator(package, bad.vectors, vectors.value_count)


def test_hdl_stage_verifies_the_hybrid_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    from types import SimpleNamespace

    from experiments.stages import hdl as stage, hybrids
    from workbench.pipeline.stages import RunConfig, StageContext
    from workbench.verify import document_check

    assert stage.HYBRID_SUFFIX == hybrids.HYBRID_SUFFIX  # the documents the hybrids stage writes
    models = tmp_path / "hybrids" / "models"
    models.mkdir(parents=True)
    (models / f"net{stage.HYBRID_SUFFIX}").write_text(json.dumps(adaptive_document()))
    settings = {"length": LENGTH, "pipeline_stages": 1, "hybrid_lanes": [2], "profiles": 8, "subset_profiles": 8,
                "ghdl_backend": "mcode", "stimuli": ["stimulus.txt", "stimulus_gaps.txt"], "yosys_lanes": [],
                "postsynth_lanes": [], "postsynth_profiles": 1}
    tests = {"mixed": SimpleNamespace(config=SimpleNamespace(bits=8), profiles=noisy_profiles(5, seed=11)),
             "bits_12": SimpleNamespace(config=SimpleNamespace(bits=12), profiles=noisy_profiles(5, seed=11) * 16)}

    def verify(out: str) -> tuple[list[dict], list[str]]:
        ctx = StageContext("hdl", tmp_path / out, {"hybrids": tmp_path / "hybrids"}, RunConfig("quick", 1), settings,
                           logging.getLogger("test"), tmp_path)
        check = stage._Verification(ctx)
        with stage.ThreadPoolExecutor(max_workers=1) as yosys:
            assert stage._hybrids(ctx, ["net", "absent"], tests, tmp_path, yosys, check) == []  # no Yosys lanes
        return check.rows, check.failures

    rows, failures = verify("good")
    assert failures == []
    compared = {row["stage"]: (row["model"], row["lanes"], row["compared"], row["mismatches"]) for row in rows}
    for stimulus in ("stimulus", "stimulus_gaps"):  # 66 values a profile: 64 scores, found, pos
        ghdl, = (key for key in compared if key.startswith("vhdl-ghdl") and key.endswith(f"-{stimulus}"))  # its back end
        assert compared[ghdl] == compared[f"verilog-icarus-{stimulus}"] == ("net.hybrid", 2, 8 * 66, 0)
        assert compared[f"verilog-verilator-{stimulus}"] == ("net.hybrid", 2, 8 * 66, 0)
        assert compared[f"verilog-verilator-testsets-{stimulus}"] == ("net.hybrid", 2, 5 * 66, 0)  # 8-bit sets only
    assert len(rows) == 8
    real = document_check.document_vectors

    def shifted(model, profiles):  # every found position 1/64 px off: caught
        vectors = real(model, profiles)
        return dataclasses.replace(vectors, pos=vectors.pos + vectors.found)

    monkeypatch.setattr(document_check, "document_vectors", shifted)
    rows, failures = verify("wrong")
    assert len(failures) == 8 and all(row["mismatches"] > 0 for row in rows)

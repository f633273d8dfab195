"""The generated peak detector against the golden model: exact equality, negative controls, throughput, bad input."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from workbench.qnn import contract

from workbench.data import signals
from workbench.errors import ConfigError, ContractError
from workbench.qnn.golden import run_golden
from workbench.verify.harness import compare, latencies, run_design
from workbench.hdl.network import network_design
from workbench.hw.interface import StreamDesign
from workbench.hw.top import build_top
from workbench.qnn.randnet import random_document

CONFORMANCE = sorted((Path(__file__).parent / "conformance").glob("*.json"))


def trained_like_document(refine: str = "parabolic") -> dict:
    """A network shaped like the trained ones: conv k5 -> 4-bit unsigned -> conv k3 -> ... -> 1-channel score."""
    return random_document(np.random.default_rng(2031), n_weight_layers=3, max_channels=4, kernel_sizes=(3, 5),
                           input_bits=8, bits=(3, 5), refine=refine, frac_bits=6)


def stress_profiles(rng: np.random.Generator, n: int, length: int, bits: int) -> np.ndarray:
    """Generator profiles plus all-zero, all-full-scale, peaks at the first and last pixel, and ties."""
    full = (1 << bits) - 1
    config = signals.preset("mixed", length=64, bits=bits)  # the generator's shortest profiles, centre cropped
    generated, _ = signals.generate(config, max(n - 5, 1), int(rng.integers(0, 1000)))
    start = (64 - length) // 2
    generated = generated[:, start:start + length]
    special = np.zeros((5, length), dtype=np.int64)
    special[1] = full
    special[2, 0] = full
    special[3, -1] = full
    special[4, [length // 4, 3 * length // 4]] = full  # a tie between two equal peaks
    return np.concatenate([special, generated.astype(np.int64)])[:n]


def changed_by_one(doc: dict, rng: np.random.Generator, what: str, profiles: np.ndarray) -> dict:
    """A copy of `doc` with one weight (or one multiplier) moved by 1, ranges refilled.

    A multiplier step can be too small to change anything on a few profiles, so the golden model
    picks a multiplier whose step shows; the hardware built from the copy must then mismatch.
    """
    if what == "weight":
        doc = copy.deepcopy(doc)
        layer = doc["layers"][0]
        weights = np.array(layer["weights"])
        index = tuple(int(rng.integers(0, s)) for s in weights.shape)
        limit = (1 << (layer["weight_bits"] - 1)) - 1
        weights[index] += 1 if weights[index] < limit else -1
        layer["weights"] = weights.tolist()
        return contract.fill_ranges(doc)
    original = run_golden(contract.load_network(doc), profiles).scores
    for index, layer in enumerate(doc["layers"]):
        for c in range(len(layer.get("multiplier", []))):
            for step in (1, -1):
                candidate = copy.deepcopy(doc)
                multiplier = candidate["layers"][index]["multiplier"]
                if not 0 <= multiplier[c] + step < 1 << 16:
                    continue
                multiplier[c] += step
                candidate = contract.fill_ranges(candidate)
                if np.any(run_golden(contract.load_network(candidate), profiles).scores != original):
                    return candidate
    raise AssertionError("no multiplier step changes the scores of these profiles")


def assert_exact(design, profiles, **run_args) -> None:
    """Every score and result equal to the golden model's, and the right number of values compared."""
    run = run_design(design, profiles, **run_args)
    result = compare(design, profiles, run)
    n, length = profiles.shape
    assert (result.scores_compared, result.results_compared) == (n * length, n)
    assert result.mismatches == 0, result.first_mismatch


@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
def test_trained_like_network_is_exact_and_weight_control_fails(lanes: int) -> None:
    doc = trained_like_document()
    network = contract.load_network(doc)
    length = 32
    profiles = stress_profiles(np.random.default_rng(lanes), 8, length, network.input_bits)
    assert_exact(build_top(network, lanes, length), profiles)
    broken = build_top(changed_by_one(doc, np.random.default_rng(lanes), "weight", profiles), lanes, length)
    result = compare(broken, profiles, run_design(broken, profiles), reference=network)
    assert result.compared == 8 * length + 8
    assert result.mismatches > 0


@pytest.mark.parametrize("lanes", [3, 6])
def test_lane_counts_that_leave_a_candidate_unpaired_are_exact(lanes: int) -> None:
    """The arg-max tree passes an unpaired candidate on through a level (3 and 6 lanes); flat profiles
    tie every lane of a beat, so the first index must win inside the tree too."""
    network = contract.load_network(trained_like_document())
    profiles = stress_profiles(np.random.default_rng(lanes), 8, 24, network.input_bits)
    assert_exact(build_top(network, lanes, 24), profiles)


def test_multiplier_changed_by_one_produces_mismatches() -> None:
    doc = copy.deepcopy(trained_like_document())
    for layer in doc["layers"]:  # coarser multipliers (same scales), so that a step of 1 shows on few profiles
        if layer["type"] == "requantizer" and layer["shift"] >= 10:
            layer["shift"] -= 10
            layer["multiplier"] = [max(1, m >> 10) for m in layer["multiplier"]]
    doc = contract.fill_ranges(doc)
    network = contract.load_network(doc)
    profiles = np.random.default_rng(9).integers(0, 256, size=(8, 16))
    design = build_top(network, 2, 16)
    assert_exact(design, profiles)
    broken = build_top(changed_by_one(doc, np.random.default_rng(0), "multiplier", profiles), 2, 16)
    result = compare(broken, profiles, run_design(broken, profiles), reference=network)
    assert result.compared == 8 * 16 + 8
    assert result.mismatches > 0


@pytest.mark.parametrize("refine", ["centroid", "none"])
def test_every_refinement_is_exact(refine: str) -> None:
    network = contract.load_network(trained_like_document(refine))
    profiles = stress_profiles(np.random.default_rng(7), 8, 16, network.input_bits)
    assert_exact(build_top(network, 4, 16, pipeline_stages=2), profiles)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), lanes=st.sampled_from([1, 2, 4]), extreme=st.booleans(),
       stages=st.integers(1, 3), threshold_bits=st.sampled_from([0, 2, 8]))
@example(seed=52, lanes=1, extreme=False, stages=1, threshold_bits=0)  # parabolic head, no fraction bits
def test_random_small_networks_are_exact(seed: int, lanes: int, extreme: bool, stages: int,
                                         threshold_bits: int) -> None:
    rng = np.random.default_rng(seed)
    doc = random_document(rng, max_channels=3, kernel_sizes=(1, 3, 5), extreme_weights=extreme)
    network = contract.load_network(doc)
    length = 16
    full = network.input_range[1]
    profiles = rng.integers(0, full + 1, size=(6, length))
    profiles[0], profiles[1] = 0, full
    profiles[2] = 0
    profiles[2, 0] = full
    profiles[3] = 0
    profiles[3, -1] = full
    design = build_top(network, lanes, length, pipeline_stages=stages, threshold_bits=threshold_bits)
    assert_exact(design, profiles, gap_probability=0.2 if seed % 2 else 0.0, seed=seed)
    # negative control: a score-layer weight moved by 1 (whenever that changes the golden scores)
    broken_doc = copy.deepcopy(doc)
    last = broken_doc["layers"][-1]
    weights = np.array(last["weights"])
    flat = weights.reshape(-1)
    flat[0] += 1 if flat[0] < (1 << (last["weight_bits"] - 1)) - 1 else -1
    last["weights"] = weights.tolist()
    broken = contract.load_network(contract.fill_ranges(broken_doc))
    if np.any(run_golden(broken, profiles).scores != run_golden(network, profiles).scores):
        hardware = build_top(broken, lanes, length, pipeline_stages=stages, threshold_bits=threshold_bits)
        assert compare(hardware, profiles, run_design(hardware, profiles), reference=network).mismatches > 0


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_conformance_cases_pass_in_simulation(path: Path) -> None:
    case = json.loads(path.read_text())
    network = contract.load_network(case["document"])
    profiles = np.array(case["profiles"], dtype=np.int64)
    length = profiles.shape[1]
    lanes = 2 if length % 2 == 0 else 1
    design = build_top(network, lanes, length)
    run = run_design(design, profiles)
    np.testing.assert_array_equal(run.scores, np.array(case["expected"]["scores"]))
    np.testing.assert_array_equal(run.found, np.array(case["expected"]["found"]))
    np.testing.assert_array_equal(run.pos, np.array(case["expected"]["pos"]))
    assert run.scores.size == profiles.size


def test_back_to_back_profiles_take_exactly_l_over_p_cycles_with_constant_latency() -> None:
    network = contract.load_network(trained_like_document())
    lanes, length, n = 4, 16, 30
    design = build_top(network, lanes, length, pipeline_stages=2)
    profiles = np.random.default_rng(3).integers(0, 256, size=(n, length))
    run = run_design(design, profiles)
    assert np.diff(run.in_cycles).tolist() == [1] * (n * length // lanes - 1)  # no idle input cycle
    assert np.diff(run.result_cycles).tolist() == [length // lanes] * (n - 1)
    assert np.diff(run.score_cycles).tolist() == [1] * (n * length // lanes - 1)
    score_latency, result_latency = latencies(run, design.beats_per_profile)
    assert set(score_latency) == {design.latency}
    assert set(result_latency) == {design.result_latency}
    assert compare(design, profiles, run).mismatches == 0


def test_alternating_full_scale_and_random_profiles_with_gaps_are_exact() -> None:
    network = contract.load_network(trained_like_document("centroid"))
    rng = np.random.default_rng(11)
    profiles = rng.integers(0, 256, size=(12, 16))
    profiles[::2] = 255
    assert_exact(build_top(network, 2, 16), profiles, gap_probability=0.4, seed=5)


def _bad(doc: dict, change) -> dict:
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


BAD_DOCUMENTS = {
    "unknown layer type": lambda d: d["layers"][0].update(type="qlstm"),
    "weight out of range": lambda d: d["layers"][0]["weights"][0][0].__setitem__(0, 99),
    "channel count mismatch": lambda d: d["layers"][2].update(in_channels=d["layers"][2]["in_channels"] + 1),
}


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
def test_documents_violating_the_contract_fail_before_simulation(name: str) -> None:
    doc = _bad(trained_like_document(), BAD_DOCUMENTS[name])
    with pytest.raises(ContractError):
        build_top(doc, 2, 16)


@pytest.mark.parametrize("lanes,length", [(3, 16), (0, 16), (33, 66), (4, 0)])
def test_bad_sizes_fail_with_a_config_error(lanes: int, length: int) -> None:
    with pytest.raises(ConfigError):
        build_top(trained_like_document(), lanes, length)


def test_top_level_ports_have_the_agreed_widths() -> None:
    network = contract.load_network(trained_like_document())
    design = build_top(network, 4, 32)
    sig = design.make_signals()
    assert len(sig["s_tdata"]) == 4 * 8
    assert len(sig["m_score_tdata"]) == 4 * contract.bit_width(*network.score_range)
    assert len(sig["m_pos"]) == (31 << network.head.frac_bits).bit_length()
    assert design.score_bits == contract.bit_width(*network.score_range)


def test_the_generated_design_is_the_description_the_hdl_flow_takes() -> None:
    """One design description: `build_top` returns a `StreamDesign` whose ports() the HDL flow reads."""
    network = contract.load_network(trained_like_document())
    design = build_top(network, 2, 16, pipeline_stages=2)
    assert isinstance(design, StreamDesign)
    widths = {port.name: (port.width, port.direction, port.signed) for port in design.ports()}
    assert len(widths) == 13
    assert widths["s_tdata"] == (2 * design.in_bits, "in", False)
    assert widths["m_score_tdata"] == (2 * design.score_bits, "out", False)
    assert widths["m_pos"] == (design.pos_bits, "out", False)
    assert design.longest_latency == design.result_latency > design.latency
    assert network_design(network, 2, 16, pipeline_stages=2).ports() == design.ports()

"""The real network top-level (workbench.hw) through the HDL flow: VHDL in GHDL and Verilog in
Icarus reproduce the golden model exactly on random networks, the conformance cases, extreme
weights and a trained-like network; negative controls; co-simulation; lint; no DSP for small weights."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.golden import run_golden
from workbench.verify.cosim import cosimulate
from workbench.hdl.hardware import synthesize_design
from workbench.hdl.network import network_design
from workbench.hdl.package import write_package
from workbench.verify.simulators import ghdl_elaborate, verilator_lint
from workbench.verify.vectors import golden_vectors, stress_profiles
from workbench.verify.check import SIMULATORS, run_testbench, verify_package
from workbench.qnn.randnet import random_document

pytestmark = pytest.mark.hdl
LENGTH = 32


def _verify(tmp_path, network, lanes, profiles, arithmetic="trees"):
    vectors = golden_vectors(network, profiles)
    package = write_package(network_design(network, lanes, profiles.shape[1], arithmetic=arithmetic),
                            tmp_path / f"p{lanes}", vectors)
    verdicts = verify_package(package)
    assert all(v.compared == vectors.value_count for v in verdicts)
    return package


def _profiles(network, count=12, length=LENGTH, seed=0):
    return stress_profiles(np.random.default_rng(seed), count, length, network.input_bits)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_networks_bit_exact(tmp_path, seed):
    rng = np.random.default_rng(100 + seed)
    network = load_network(random_document(rng, max_channels=3, extreme_weights=seed == 2))
    _verify(tmp_path, network, lanes=[1, 2, 4][seed], profiles=_profiles(network, seed=seed))


def test_conformance_cases_bit_exact(tmp_path, conformance_case):
    network = load_network(conformance_case["document"])
    profiles = np.array(conformance_case["profiles"], dtype=np.int64)
    expected = conformance_case["expected"]
    golden = run_golden(network, profiles)
    assert np.array_equal(golden.scores, np.array(expected["scores"]))  # the vectors are the case's
    lanes = 2 if profiles.shape[1] % 2 == 0 else 1
    _verify(tmp_path, network, lanes, profiles)


def trained_like_document() -> dict:
    """A network shaped like the trained ones: conv k5 1->8 (4-bit), requant to 4 bits, dense 8->8,
    requant, conv k3 8->1 score, parabolic head."""
    return random_document(np.random.default_rng(7), n_weight_layers=3, max_channels=8, kernel_sizes=(5, 3),
                           input_bits=8, bits=(4, 4), refine="parabolic")


def test_trained_like_network_bit_exact_and_negative_control(tmp_path):
    document = trained_like_document()
    network = load_network(document)
    profiles = _profiles(network, count=10)
    package = _verify(tmp_path, network, lanes=4, profiles=profiles)
    broken = copy.deepcopy(document)
    first = broken["layers"][0]
    first["weights"][0][0][0] += 1 if first["weights"][0][0][0] < 7 else -1
    bad = load_network(fill_ranges(broken))
    bad_package = write_package(network_design(bad, 4, LENGTH), tmp_path / "bad", golden_vectors(network, profiles))
    for simulator in SIMULATORS:
        verdict = run_testbench(bad_package, simulator)
        assert not verdict.passed and verdict.mismatches > 0
    assert package.design["values"] == bad_package.design["values"]


def test_shared_arithmetic_bit_exact_and_negative_control(tmp_path):
    """The shared-subexpression arithmetic in GHDL and Icarus, on a small random network; one weight
    moved by 1 makes both simulators report mismatches on the same vectors."""
    document = random_document(np.random.default_rng(5), n_weight_layers=2, max_channels=3, kernel_sizes=(3,),
                               input_bits=8, bits=(4, 4), refine="parabolic")
    network = load_network(document)
    profiles = _profiles(network, count=6, length=16)
    package = _verify(tmp_path, network, lanes=2, profiles=profiles, arithmetic="shared")
    assert package.design["values"] == 6 * 16 + 2 * 6  # every score, found flag and pos
    broken = copy.deepcopy(document)
    first = broken["layers"][0]
    first["weights"][1][0][0] += 1 if first["weights"][1][0][0] < 7 else -1
    bad = network_design(load_network(fill_ranges(broken)), 2, 16, arithmetic="shared")
    bad_package = write_package(bad, tmp_path / "bad", golden_vectors(network, profiles))
    for simulator in SIMULATORS:
        verdict = run_testbench(bad_package, simulator)
        assert not verdict.passed and verdict.mismatches > 0


def test_cosimulation_of_the_network(tmp_path):
    network = load_network(trained_like_document())
    result = cosimulate(network_design(network, 2, LENGTH), _profiles(network, count=4))
    assert result.mismatches == 0 and result.cycles > 64


def test_network_vhdl_elaborates_and_verilog_lints(tmp_path):
    network = load_network(trained_like_document())
    package = write_package(network_design(network, 2, LENGTH), tmp_path / "hdl",
                            golden_vectors(network, _profiles(network, count=1)))
    ghdl_elaborate(package.vhdl_files, package.design["top"], tmp_path / "work")
    verilator_lint(package.file("verilog"), package.design["top"])


def test_small_weights_use_no_dsp(tmp_path):
    """4-bit weights (and 16-bit requantizer multipliers) become shift-and-add: Yosys, with DSP
    inference on, maps no DSP48E1. A small network keeps Yosys at a few seconds."""
    document = random_document(np.random.default_rng(11), n_weight_layers=2, max_channels=2, kernel_sizes=(3,),
                               input_bits=8, bits=(4, 4))
    result = synthesize_design(network_design(load_network(document), 2, 8), cache_dir=tmp_path)
    assert result.with_dsp.dsps == 0, result.with_dsp.cells
    assert result.with_dsp.luts > 0 and result.arrival_ns > 0


@pytest.mark.slow
def test_trained_like_network_uses_no_dsp(tmp_path):
    result = synthesize_design(network_design(load_network(trained_like_document()), 1, LENGTH), cache_dir=tmp_path)
    assert result.with_dsp.dsps == 0, result.with_dsp.cells

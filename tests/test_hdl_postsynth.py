"""Post-synthesis simulation: the netlist Yosys counts, simulated with Yosys's Xilinx cell models in
Icarus, reproduces the golden vectors of a small network; the netlist of the same design with one
weight changed by 1 fails them."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from workbench.hdl.network import network_design
from workbench.hdl.package import write_package
from workbench.hdl.synth import synthesize
from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.golden import run_golden
from workbench.qnn.randnet import random_document
from workbench.verify.check import built_testbench
from workbench.verify.postsynth import POSTSYNTH
from workbench.verify.simulators import require_pass
from workbench.verify.vectors import STIMULUS, STIMULUS_GAPS, golden_vectors, stress_profiles

pytestmark = pytest.mark.hdl
PROFILES, LENGTH = 6, 16


def test_netlist_matches_golden_and_one_changed_weight_fails(tmp_path):
    document = random_document(np.random.default_rng(5), n_weight_layers=2, max_channels=2, kernel_sizes=(3,),
                               input_bits=8, bits=(4, 4), refine="parabolic")
    network = load_network(document)
    profiles = stress_profiles(np.random.default_rng(1), PROFILES, LENGTH, network.input_bits)
    vectors = golden_vectors(network, profiles)
    assert vectors.value_count == PROFILES * LENGTH + 2 * PROFILES  # every score, found flag and pos
    design = network_design(network, 1, LENGTH)
    package = write_package(design, tmp_path / "good", vectors)
    result = synthesize(package.file("verilog"), design.name, cache_dir=tmp_path / "yosys")
    assert result.netlist is not None and result.netlist.is_file()
    assert synthesize(package.file("verilog"), design.name, cache_dir=tmp_path / "yosys").netlist == result.netlist
    with built_testbench(package, POSTSYNTH, netlist=result.netlist) as run:
        for stimulus in (STIMULUS, STIMULUS_GAPS):
            verdict = require_pass(run(stimulus), vectors.value_count)
            assert verdict.simulator == POSTSYNTH and verdict.mismatches == 0

    broken = copy.deepcopy(document)
    first = broken["layers"][0]
    first["weights"][1][0][0] += 1 if first["weights"][1][0][0] < 7 else -1
    bad_network = load_network(fill_ranges(broken))
    assert not np.array_equal(run_golden(bad_network, profiles).scores, vectors.scores)
    bad = network_design(bad_network, 1, LENGTH)
    bad_package = write_package(bad, tmp_path / "bad", vectors)  # the unchanged model's expectations
    bad_result = synthesize(bad_package.file("verilog"), bad.name, cache_dir=tmp_path / "yosys")
    assert bad_result.netlist_hash != result.netlist_hash
    with built_testbench(bad_package, POSTSYNTH, netlist=bad_result.netlist) as run:
        verdict = run()
    assert not verdict.passed and verdict.mismatches > 0

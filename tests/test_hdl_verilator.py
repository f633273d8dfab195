"""The shipped Verilog testbench in Verilator (issue 14): the same verdict and compared-value count as
Icarus on the same vectors, a negative control, and the two testbench rules that make it so.

Before the fix Verilator 5.006 reported thousands of mismatches on vectors Icarus and GHDL pass: it
splits the checker's `always @(posedge clk)` block and clones every enclosing `if` condition into
each piece, so `if ($fscanf(fe, ...) != 1)` consumed several expected lines per beat. It also runs
`<=` in an `initial` block as `=` right after the rising edge, so the design saw 3 reset edges and
each stimulus line one edge early (masked by the order-only checker)."""
from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from workbench.qnn.contract import fill_ranges, load_network
from workbench.hdl.network import network_design
from workbench.hdl.package import write_package
from workbench.verify.simulators import run_icarus, run_verilator_binary, verilator_build
from workbench.verify.testbench import RESET_CYCLES, verilog_testbench
from workbench.verify.check import built_testbench
from workbench.verify.vector_sets import run_vector_sets
from workbench.verify.vectors import (EXPECTED_RESULTS, EXPECTED_SCORES, STIMULUS, STIMULUS_GAPS, VectorSet,
                                      golden_vectors, stress_profiles)
from workbench.qnn.randnet import random_document

from hdl_fixtures import fixture_design, fixture_reference

LENGTH = 16


def _document() -> dict:
    return random_document(np.random.default_rng(5), n_weight_layers=2, max_channels=2, kernel_sizes=(3,),
                           input_bits=8, bits=(4, 4))


def _vectors(package, stimulus):
    return tuple(package.vectors / name for name in (stimulus, EXPECTED_SCORES, EXPECTED_RESULTS))


@pytest.mark.hdl
def test_verilator_matches_icarus_and_negative_control(tmp_path):
    document = _document()
    network = load_network(document)
    profiles = stress_profiles(np.random.default_rng(3), 12, LENGTH, network.input_bits)
    vectors = golden_vectors(network, profiles)
    package = write_package(network_design(network, 1, LENGTH), tmp_path / "good", vectors)
    top, drain = package.design["top"], package.design["drain_cycles"]
    binary = verilator_build([package.file("verilog"), package.file("tb_verilog")], f"tb_{top}", tmp_path / "vg")
    for stimulus in (STIMULUS, STIMULUS_GAPS):
        files = _vectors(package, stimulus)
        fast = run_verilator_binary(binary, *files, drain)
        slow = run_icarus([package.file("verilog")], package.file("tb_verilog"), top, *files, drain)
        assert slow.passed and slow.compared == vectors.value_count, slow.output
        assert fast.passed, fast.output
        assert (fast.compared, fast.mismatches) == (slow.compared, slow.mismatches) == (vectors.value_count, 0)

    broken = copy.deepcopy(document)
    first = broken["layers"][0]
    first["weights"][0][0][0] += 1 if first["weights"][0][0][0] < 7 else -1
    bad = write_package(network_design(load_network(fill_ranges(broken)), 1, LENGTH), tmp_path / "bad", vectors)
    bad_binary = verilator_build([bad.file("verilog"), bad.file("tb_verilog")], f"tb_{top}", tmp_path / "vb")
    verdict = run_verilator_binary(bad_binary, *_vectors(bad, STIMULUS), drain)
    assert not verdict.passed and verdict.mismatches > 0


def test_verilog_testbench_rules():
    """No side-effecting system function inside a condition (Verilator clones conditions when it
    splits a block), and the inputs are driven with blocking assignments after a falling edge, never
    with `<=` in the initial block (Verilator 5.006 runs those as `=` before the sampling edge)."""
    text = verilog_testbench(fixture_design(lanes=2))
    conditions = re.findall(r"\b(?:if|while)\s*\((.*)\)", text)
    assert conditions and not [c for c in conditions if re.search(r"\$(fscanf|fopen|value\$plusargs)", c)]
    body = text[text.index("  initial begin"):text.index("  always @(posedge clk)")]
    assert "<=" not in body.replace("reports < MAX_REPORTS", "")
    assert f"repeat ({RESET_CYCLES}) @(posedge clk);\n    @(negedge clk);\n    rst = 1'b0;" in body
    assert re.search(r"s_tdata = d\[LANES \* B - 1:0\];\n\s*@\(negedge clk\);", body)


@pytest.mark.hdl
def test_vector_sets_through_verilator_as_through_icarus(tmp_path):
    """Several vector sets streamed through testbenches built once (the hdl stage's test-set path):
    Verilator's verdicts equal Icarus's set by set, a set with one wrong expectation fails alone,
    and every set's files are gone afterwards."""
    design = fixture_design(lanes=2)
    sets = []
    for index, count in enumerate((3, 7, 5)):
        profiles = stress_profiles(np.random.default_rng(index), count, design.profile_length, design.in_bits)
        sets.append((f"set{index}", VectorSet(profiles, *fixture_reference(profiles))))
    good = sets[1][1]
    wrong = good.scores.copy()
    wrong[2, 5] += 1 if wrong[2, 5] < 0 else -1
    sets.append(("wrong", VectorSet(good.profiles, wrong, good.found, good.pos)))
    package = write_package(design, tmp_path / "hdl", sets[0][1])
    outcomes = {}
    for simulator in ("icarus", "verilator"):
        with built_testbench(package, simulator) as run:
            runs = run_vector_sets({2: (design, run)}, sets, tmp_path / simulator, (STIMULUS, STIMULUS_GAPS))
        outcomes[simulator] = [(r.name, r.stimulus, r.passed, r.verdict.compared, r.verdict.mismatches) for r in runs]
        assert not list((tmp_path / simulator).iterdir())
    assert outcomes["icarus"] == outcomes["verilator"]
    expected = [(name, stimulus, name != "wrong", vectors.value_count, int(name == "wrong"))
                for name, vectors in sets for stimulus in (STIMULUS, STIMULUS_GAPS)]
    assert outcomes["verilator"] == expected
    assert sum(compared for *_, compared, _ in outcomes["verilator"]) == 2 * sum(v.value_count for _, v in sets) == 2 * 22 * (16 + 2)

"""The HDL flow on a small fixture block with the peak detector's ports (tests/hdl_fixtures.py):
testbenches in GHDL and Icarus, negative controls, co-simulation, lint, and missing-tool errors."""
from __future__ import annotations

import numpy as np
import pytest

from hdl_fixtures import fixture_design, fixture_reference
from workbench.errors import ToolchainError
from workbench.verify.cosim import cosimulate
from workbench.hdl.package import write_package
from workbench.verify.simulators import (HdlVerificationError, ghdl_elaborate, parse_verdict, require_pass,
                                      verilator_lint)
from workbench.hdl.tools import find_tool, myhdl_vpi_path
from workbench.verify.vectors import VectorSet, stress_profiles
from workbench.verify.check import SIMULATORS, run_testbench, verify_package

pytestmark = pytest.mark.hdl


def _vectors(design, count=24, **reference):
    profiles = stress_profiles(np.random.default_rng(3), count, design.profile_length, design.in_bits)
    return VectorSet(profiles, *fixture_reference(profiles, **reference))


@pytest.mark.parametrize("lanes", [1, 4])
def test_fixture_testbenches_pass_and_count(tmp_path, lanes):
    design = fixture_design(lanes=lanes)
    vectors = _vectors(design)
    package = write_package(design, tmp_path / "hdl", vectors)
    verdicts = verify_package(package)
    assert len(verdicts) == 4  # two simulators x (back to back, with gaps)
    assert all(v.compared == vectors.value_count == package.design["values"] for v in verdicts)
    assert {"README.md", "design.json", "vivado", "vhdl", "verilog", "tb", "vectors"} <= \
        {p.name for p in package.root.iterdir()}


def test_negative_control_fails_every_testbench(tmp_path):
    design = fixture_design(lanes=2, weight=301)  # the hardware is off by one in its weight
    package = write_package(design, tmp_path / "hdl", _vectors(design, weight=300))
    for simulator in SIMULATORS:
        verdict = run_testbench(package, simulator)
        assert not verdict.passed and verdict.mismatches > 0
        with pytest.raises(HdlVerificationError):
            require_pass(verdict, package.design["values"])


def test_verdict_must_exist_and_count_everything():
    with pytest.raises(HdlVerificationError):
        parse_verdict("x", "no verdict here", 0.1, 10)
    verdict = parse_verdict("x", "VERDICT PASS compared=10 mismatches=0\n", 0.1, 10)
    with pytest.raises(HdlVerificationError, match="compared 10"):
        require_pass(verdict, 12)


def test_cosimulation_lockstep_and_negative_control():
    design = fixture_design(lanes=2)
    profiles = stress_profiles(np.random.default_rng(5), 10, design.profile_length, design.in_bits)
    result = cosimulate(design, profiles)
    assert result.mismatches == 0 and result.compared == 7 * result.cycles and result.cycles > 80
    bad = cosimulate(design, profiles, verilog_from=fixture_design(lanes=2, weight=301))
    assert bad.mismatches > 0


def test_vhdl_elaborates_and_verilog_lints(tmp_path):
    package = write_package(fixture_design(lanes=2), tmp_path / "hdl", _vectors(fixture_design(lanes=2), 2))
    ghdl_elaborate(package.vhdl_files, "fixture_top", tmp_path / "work")
    verilator_lint(package.file("verilog"), "fixture_top")


@pytest.mark.parametrize("tool,package", [("ghdl", "ghdl"), ("iverilog", "iverilog"), ("vvp", "iverilog"),
                                          ("yosys", "yosys"), ("verilator", "verilator")])
def test_missing_tool_names_the_package(monkeypatch, tmp_path, tool, package):
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match=f"apt-get install -y {package}"):
        find_tool(tool)


def test_missing_simulator_fails_the_run_clearly(monkeypatch, tmp_path):
    design = fixture_design(lanes=1)
    package = write_package(design, tmp_path / "hdl", _vectors(design, 2))
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", str(tmp_path / "empty"))
    for simulator in SIMULATORS:
        with pytest.raises(ToolchainError, match="Debian package"):
            run_testbench(package, simulator)


def test_missing_vpi_module(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_MYHDL_VPI", str(tmp_path / "none.vpi"))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    with pytest.raises(ToolchainError, match="make setup"):
        myhdl_vpi_path()


def test_failed_package_leaves_nothing(tmp_path):
    design = fixture_design(lanes=2)
    vectors = _vectors(design, 3)
    bad = VectorSet(vectors.profiles, vectors.scores * 1000, vectors.found, vectors.pos)  # scores too wide
    with pytest.raises(Exception, match="outside"):
        write_package(design, tmp_path / "hdl", bad)
    assert list(tmp_path.iterdir()) == []

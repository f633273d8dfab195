"""GHDL back ends: the quickest to start is chosen by default, llvm by name, a named one must be installed, and every
installed one gives the same verdict on the fixture's testbench (with a negative control)."""
from __future__ import annotations

import stat

import numpy as np
import pytest

from hdl_fixtures import fixture_design, fixture_reference
from workbench.errors import ConfigError, ToolchainError
from workbench.hdl.package import write_package
from workbench.verify.check import run_testbench
from workbench.verify.simulators import GHDL_BACKENDS, ghdl_backend, installed_ghdl_backends
from workbench.verify.vectors import STIMULUS_GAPS, VectorSet, stress_profiles


def _fake_tools(folder, names):
    folder.mkdir()
    for name in names:
        path = folder / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(folder)


def test_quickest_installed_backend_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", _fake_tools(tmp_path / "mcode", ["ghdl", "ghdl-mcode"]))
    assert installed_ghdl_backends() == ["mcode", "path"] and ghdl_backend() == "mcode"
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", _fake_tools(tmp_path / "both", ["ghdl", "ghdl-mcode", "ghdl-llvm"]))
    assert installed_ghdl_backends()[0] == "llvm"  # fastest first
    assert ghdl_backend() == "mcode" and ghdl_backend("llvm") == "llvm"
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", _fake_tools(tmp_path / "native", ["ghdl-llvm"]))
    assert ghdl_backend() == "llvm"  # the only one installed
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", _fake_tools(tmp_path / "plain", ["ghdl"]))
    assert ghdl_backend() == "path"
    with pytest.raises(ToolchainError, match="apt-get install -y ghdl-llvm"):
        ghdl_backend("llvm")
    with pytest.raises(ConfigError, match="unknown GHDL back end 'fast'"):
        ghdl_backend("fast")
    monkeypatch.setenv("WORKBENCH_TOOL_PATH", _fake_tools(tmp_path / "none", []))
    with pytest.raises(ToolchainError, match="apt-get install -y ghdl"):
        ghdl_backend()


@pytest.mark.hdl
def test_every_installed_backend_gives_the_same_verdict(tmp_path):
    backends = [b for b in installed_ghdl_backends() if b != "path"] or ["path"]
    design = fixture_design(lanes=2)
    profiles = stress_profiles(np.random.default_rng(4), 6, design.profile_length, design.in_bits)
    vectors = VectorSet(profiles, *fixture_reference(profiles))
    good = write_package(design, tmp_path / "good", vectors)
    bad = write_package(fixture_design(lanes=2, weight=301), tmp_path / "bad", vectors)
    for backend in backends:
        verdict = run_testbench(good, "ghdl", STIMULUS_GAPS, ghdl_backend=backend)
        assert verdict.passed and verdict.compared == vectors.value_count == 6 * 18, (backend, verdict.output)
        assert verdict.simulator == GHDL_BACKENDS[backend]
        wrong = run_testbench(bad, "ghdl", STIMULUS_GAPS, ghdl_backend=backend)
        assert not wrong.passed and wrong.mismatches > 0, backend

"""`workbench simulate` end to end, its one-line errors, and conversion of the top-level to VHDL and Verilog."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.qnn.contract import load_network
from workbench.hw.top import build_top
from workbench.qnn.randnet import random_document


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(random_document(np.random.default_rng(3), input_bits=8, refine="parabolic")))
    return path


def test_simulate_reports_zero_mismatches(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, profiles=np.random.default_rng(0).integers(0, 256, size=(12, 16)).astype(np.uint16))
    vcd = tmp_path / "trace.vcd"
    assert main(["simulate", "--model", str(model), "--data", str(data), "--lanes", "4", "--profiles", "6",
                 "--gaps", "0.2", "--vcd", str(vcd)]) == 0
    out = capsys.readouterr().out
    assert "compared    96 scores, 6 (found, pos) results" in out
    assert "mismatches  0 (0 scores, 0 results)" in out
    assert "cycles/s" in out
    assert vcd.stat().st_size > 0


def test_simulate_from_a_preset(model: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["simulate", "--model", str(model), "--preset", "mixed", "--length", "64", "--lanes", "8",
                 "--profiles", "3"]) == 0
    out = capsys.readouterr().out
    assert "mismatches  0" in out
    assert "8.00 cycles per profile" in out


@pytest.mark.parametrize("args,message", [
    (["--lanes", "3"], "not a positive multiple of the 3 lanes"),
    (["--lanes", "0"], "lanes is 0"),
    (["--lanes", "64"], "lanes is 64"),
])
def test_simulate_bad_sizes_fail_with_one_line(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                               args: list[str], message: str) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, profiles=np.zeros((2, 16), dtype=np.uint16))
    assert main(["simulate", "--model", str(model), "--data", str(data)] + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_simulate_bad_document_fails_before_simulation(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    doc = random_document(np.random.default_rng(1))
    doc["layers"][0]["type"] = "qlstm"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["simulate", "--model", str(path), "--preset", "mixed", "--lanes", "1"]) == 2
    assert "unknown layer type 'qlstm'" in capsys.readouterr().err


@pytest.mark.hdl
@pytest.mark.skipif(not (shutil.which("iverilog") and shutil.which("ghdl")), reason="needs iverilog and ghdl")
@pytest.mark.parametrize("refine,lanes", [("parabolic", 4), ("centroid", 2), ("none", 1)])
def test_top_level_converts_and_compiles(tmp_path: Path, refine: str, lanes: int) -> None:
    network = load_network(random_document(np.random.default_rng(6), refine=refine))
    design = build_top(network, lanes, 16)
    design.instance().convert(hdl="Verilog", path=str(tmp_path), name="peak_detector")
    design.instance().convert(hdl="VHDL", path=str(tmp_path), name="peak_detector")
    subprocess.run(["iverilog", "-g2012", "-o", "top.vvp", "peak_detector.v"], cwd=tmp_path, check=True,
                   timeout=120)
    subprocess.run(["ghdl", "-a", "--std=08", "pck_myhdl_011.vhd", "peak_detector.vhd"], cwd=tmp_path,
                   check=True, timeout=120)

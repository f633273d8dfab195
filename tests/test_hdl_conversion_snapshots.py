"""The converted VHDL and Verilog stay byte for byte what they were before the simulation got faster.

`workbench.verify.int_processes` runs the generated processes on plain integers in simulation; the
converter must keep reading the same MyHDL source. `tests/snapshots/hdl/conversion.json` holds the
SHA-256 (and line count) of each converted file, MyHDL's file and date lines left out, written by
the code before that change. A deliberate change to the generated hardware regenerates it with
`python tests/test_hdl_conversion_snapshots.py` and shows up as a diff of that file. Conversions run in
a child process, so that the simulation and conversion of the case are all that process has built.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from workbench.hdl.convert import convert_block
from workbench.hdl.network import network_design
from workbench.hw.top import TopDesign
from workbench.qnn.contract import load_network
from workbench.qnn.randnet import random_document
from workbench.verify.harness import run_design
from workbench.verify.vectors import stress_profiles

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).parent / "snapshots" / "hdl" / "conversion.json"
HEADER_LINES = re.compile(r"^(--|//) (File|Date): .*$", re.MULTILINE)  # the output path and the time


def _small() -> TopDesign:
    document = random_document(np.random.default_rng(5), n_weight_layers=2, max_channels=2, kernel_sizes=(3,),
                               input_bits=8, bits=(4, 4), refine="centroid")
    return network_design(load_network(document), 2, 16, pipeline_stages=2, arithmetic="shared")


def _trained_like() -> TopDesign:
    """Shaped like the trained 4/4 network: conv k5 1->8, 4-bit activations, dense 8->8, conv k3 8->1,
    parabolic head; one lane, L = 256, the shipped pipeline depth."""
    document = random_document(np.random.default_rng(7), n_weight_layers=3, max_channels=8, kernel_sizes=(5, 3),
                               input_bits=8, bits=(4, 4), refine="parabolic")
    return network_design(load_network(document), 1, 256)


CASES: dict[str, Callable[[], TopDesign]] = {"small_p2_shared": _small, "trained_like_4_4_p1": _trained_like}


def _digest(path: Path) -> dict[str, Any]:
    text = HEADER_LINES.sub("", path.read_text())
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "lines": text.count("\n")}


def converted_digests(case: str, simulate_first: bool) -> dict[str, Any]:
    """Digests of the case's converted VHDL and Verilog; with `simulate_first`, after a simulation
    of the same design in this process (its compiled processes counted under `simulated`)."""
    design = CASES[case]()
    entry: dict[str, Any] = {}
    if simulate_first:
        profiles = stress_profiles(np.random.default_rng(1), 2, design.profile_length, design.in_bits)
        entry["simulated"] = run_design(design, profiles).extra["integer_processes"]
    with tempfile.TemporaryDirectory() as tmp:
        for hdl in ("VHDL", "Verilog"):
            entry[hdl] = _digest(convert_block(design.instance(), hdl, Path(tmp) / hdl, "peak_detector"))
    return entry


def _in_child(*args: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, __file__, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_hdl_is_unchanged_after_an_integer_simulation(case):
    expected = json.loads(SNAPSHOT.read_text())
    got = _in_child("--case", case)
    assert got.pop("simulated") > 0
    assert got == expected[case]
    assert all(entry["lines"] > 1000 for entry in got.values())
    other = next(name for name in sorted(CASES) if name != case)  # negative control: another design's files
    assert got["VHDL"] != expected[other]["VHDL"] and got["Verilog"] != expected[other]["Verilog"]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        print(json.dumps(converted_digests(sys.argv[2], simulate_first=True)))
    else:
        entries = {case: converted_digests(case, simulate_first=False) for case in CASES}
        SNAPSHOT.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")

"""The generated testbenches and vector files stay byte for byte what they were.

The snapshots under `tests/snapshots/hdl/` were written by the code before the testbench text moved
into template files and before the vector writer moved onto the shared stream layer
(`workbench.verify.beats`). A deliberate change to either output regenerates them with
`python tests/test_hdl_snapshots.py` and shows up as a diff of those files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hdl_fixtures import fixture_design, fixture_reference
from workbench.hw.interface import StreamDesign
from workbench.hdl.network import network_design
from workbench.qnn.contract import load_network
from workbench.qnn.randnet import random_document
from workbench.verify.testbench import verilog_testbench, vhdl_testbench
from workbench.verify.vectors import VectorSet, golden_vectors, stress_profiles, write_vectors

SNAPSHOTS = Path(__file__).parent / "snapshots" / "hdl"
RENDERERS = {"vhd": vhdl_testbench, "v": verilog_testbench}


def _network_case() -> tuple[StreamDesign, VectorSet]:
    document = random_document(np.random.default_rng(5), n_weight_layers=2, max_channels=2, kernel_sizes=(3,),
                               input_bits=8, bits=(4, 4))
    network = load_network(document)
    profiles = stress_profiles(np.random.default_rng(3), 10, 16, network.input_bits)
    return network_design(network, 2, 16), golden_vectors(network, profiles)


def _fixture_case(**sizes) -> tuple[StreamDesign, VectorSet]:
    design = fixture_design(**sizes)
    profiles = stress_profiles(np.random.default_rng(4), 9, design.profile_length, design.in_bits)
    return design, VectorSet(profiles, *fixture_reference(profiles))


CASES = {
    "fixture_p1": lambda: _fixture_case(lanes=1),
    "fixture_p4_10bit": lambda: _fixture_case(lanes=4, in_bits=10, profile_length=32),
    "network_p2": _network_case,
}


def _vector_files(design: StreamDesign, vectors: VectorSet, folder: Path, gap_seed: int = 7) -> dict[str, bytes]:
    write_vectors(folder, design, vectors, gap_seed=gap_seed)
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("suffix", sorted(RENDERERS))
def test_testbench_text_is_unchanged(case, suffix):
    design, _ = CASES[case]()
    text = RENDERERS[suffix](design)
    expected = (SNAPSHOTS / f"tb_{case}.{suffix}").read_text()
    assert len(expected.splitlines()) > 100
    assert text == expected
    other = next(name for name in sorted(CASES) if name != case)  # negative control: another design's text
    assert text != (SNAPSHOTS / f"tb_{other}.{suffix}").read_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_vector_files_are_unchanged(case, tmp_path):
    design, vectors = CASES[case]()
    files = _vector_files(design, vectors, tmp_path / "vectors")
    expected = {path.name[len(case) + 1:]: path.read_bytes()
                for path in sorted(SNAPSHOTS.glob(f"{case}.*"))}
    assert sorted(files) == sorted(expected) and len(files) == 5
    for name, content in files.items():
        assert content == expected[name], name
    assert sum(content.count(b"\n") for content in files.values()) > 3 * vectors.profiles.size // design.lanes
    reseeded = _vector_files(design, vectors, tmp_path / "reseeded", gap_seed=8)  # negative control
    assert reseeded["stimulus_gaps.txt"] != expected["stimulus_gaps.txt"]


def write_snapshots() -> None:
    """Rewrite every snapshot from the code as it is now."""
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for case, make in CASES.items():
        design, vectors = make()
        for suffix, render in RENDERERS.items():
            (SNAPSHOTS / f"tb_{case}.{suffix}").write_text(render(design))
        folder = SNAPSHOTS / f"{case}.tmp"
        for name, content in _vector_files(design, vectors, folder).items():
            (SNAPSHOTS / f"{case}.{name}").write_bytes(content)
            (folder / name).unlink()
        folder.rmdir()


if __name__ == "__main__":
    write_snapshots()

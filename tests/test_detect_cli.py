"""`workbench detect`: round trips through images and arrays the tests write, and its one-line errors."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from workbench.cli import main
from workbench.data import signals
from workbench.detectors.classical import make_detector
from workbench.qnn.contract import load_network
from workbench.qnn.contract_v2 import hybrid_document
from workbench.qnn.detector import golden_detector, hybrid_detector
from workbench.qnn.randnet import random_document
from workbench.qnn.refinement import ADAPTIVE_BANK, REFINEMENTS, AdaptiveRefinement

LENGTH, COUNT = 64, 24


@pytest.fixture(scope="module")
def line_profiles() -> np.ndarray:
    """8-bit generator profiles (N, L): lines, empty profiles, reflections, saturation."""
    profiles, _ = signals.generate(signals.preset("mixed", length=LENGTH), COUNT, 11)
    return profiles.astype(np.int64)


@pytest.fixture()
def network(tmp_path: Path) -> Path:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(random_document(np.random.default_rng(3), input_bits=8, refine="parabolic")))
    return path


def write_image(path: Path, frames: np.ndarray) -> Path:
    """One frame (H, W) or a stack (F, H, W): PNG as one file, TIFF as one (multi-page) file."""
    if path.suffix == ".png":
        iio.imwrite(path, frames, plugin="pillow")
    else:
        tifffile.imwrite(path, frames)
    return path


def read_positions(path: Path) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray]:
    """Rows of positions.csv, and found / position (NaN where not found) as arrays."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = np.array([row["found"] == "1" for row in rows])
    pos = np.array([float(row["position_px"]) if row["position_px"] else np.nan for row in rows])
    return rows, found, pos


def assert_same_detections(found: np.ndarray, pos: np.ndarray, expected: tuple[np.ndarray, np.ndarray]) -> int:
    """Exact equality of (found, pos) with the detector's own; returns how many positions were compared."""
    want_found, want_pos = expected
    assert np.array_equal(found, want_found)
    assert np.array_equal(pos[found], want_pos[want_found])
    assert np.all(np.isnan(pos[~found]))
    return int(found.sum())


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("along", ["columns", "rows"])
def test_image_round_trip_reports_the_detectors_positions(tmp_path: Path, line_profiles: np.ndarray, suffix: str,
                                                          depth: int, along: str) -> None:
    values = line_profiles << (depth - 8)  # a 16-bit image of the same scene
    frame = values.T if along == "columns" else values
    image = write_image(tmp_path / f"frame{suffix}", frame.astype(np.uint8 if depth == 8 else np.uint16))
    threshold = 12 << (depth - 8)
    assert main(["detect", str(image), "--detector", "cog", "--window", "2", "--threshold", str(threshold),
                 "--along", along, "--out", str(tmp_path / "out")]) == 0
    rows, found, pos = read_positions(tmp_path / "out" / "positions.csv")
    assert [int(row["column" if along == "columns" else "row"]) for row in rows] == list(range(COUNT))
    expected = make_detector("cog", 2, threshold).detect(values)
    compared = assert_same_detections(found, pos, expected)
    assert compared >= COUNT // 3
    other_found, other_pos = make_detector("cog", 2, threshold).detect(values[::-1])  # negative control
    assert not (np.array_equal(found, other_found) and np.array_equal(pos[found], other_pos[other_found]))
    assert (tmp_path / "out" / "overlays" / "0000_frame.png").stat().st_size > 0


def test_reading_along_the_wrong_axis_changes_the_positions(tmp_path: Path, line_profiles: np.ndarray) -> None:
    image = write_image(tmp_path / "frame.png", line_profiles.T.astype(np.uint8))
    assert main(["detect", str(image), "--detector", "br8", "--along", "rows", "--out", str(tmp_path / "o")]) == 0
    rows, _, pos = read_positions(tmp_path / "o" / "positions.csv")
    assert len(rows) == LENGTH
    assert not np.array_equal(pos[:COUNT], make_detector("br8").detect(line_profiles)[1])


def test_network_document_on_a_folder_and_a_16_bit_stack(tmp_path: Path, line_profiles: np.ndarray,
                                                         network: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    halves = [line_profiles[:COUNT // 2], line_profiles[COUNT // 2:]]
    for k, half in enumerate(halves):
        write_image(folder / f"f{k}.png", half.T.astype(np.uint8))
    assert main(["detect", str(folder), "--detector", str(network), "--out", str(tmp_path / "a")]) == 0
    rows, found, pos = read_positions(tmp_path / "a" / "positions.csv")
    detector = golden_detector("net", load_network(network))
    compared = assert_same_detections(found, pos, detector.detect(np.concatenate(halves)))
    assert [row["source"] for row in rows] == ["f0.png"] * (COUNT // 2) + ["f1.png"] * (COUNT // 2)
    assert [row["frame"] for row in rows] == ["0"] * (COUNT // 2) + ["1"] * (COUNT // 2)

    stack = write_image(tmp_path / "stack.tif", np.stack([h.T for h in halves]).astype(np.uint16) << 8 | 0x5A)
    assert main(["detect", str(stack), "--detector", str(network), "--rescale", "--out", str(tmp_path / "b")]) == 0
    _, found16, pos16 = read_positions(tmp_path / "b" / "positions.csv")
    compared += assert_same_detections(found16, pos16, detector.detect(np.concatenate(halves)))
    assert compared > 0
    assert sorted(p.name for p in (tmp_path / "b" / "overlays").iterdir()) == ["0000_stack_0.png", "0001_stack_1.png"]


def test_a_qnn_int_2_document_runs_its_own_refinement(tmp_path: Path, line_profiles: np.ndarray,
                                                      network: Path) -> None:
    """The adaptive hybrid from its file alone; `hybrid:<doc>` keeps it, `hybrid:br8:<doc>` replaces it."""
    adaptive = AdaptiveRefinement("adaptive", tuple(REFINEMENTS[n] for n in ADAPTIVE_BANK), (21, 25, 31, 44),
                                  (4, 3, 1, 0, 0))
    v2 = tmp_path / "net.hybrid.json"
    v2.write_text(json.dumps(hybrid_document(json.loads(network.read_text()), adaptive)))
    image = write_image(tmp_path / "frame.png", line_profiles.T.astype(np.uint8))
    net = load_network(network)
    compared = 0
    for spec, refinement in ((str(v2), adaptive), (f"hybrid:{v2}", adaptive), (f"hybrid:br8:{v2}", REFINEMENTS["br8"])):
        out = tmp_path / f"out{compared}"
        assert main(["detect", str(image), "--detector", spec, "--out", str(out)]) == 0
        _, found, pos = read_positions(out / "positions.csv")
        compared += assert_same_detections(found, pos, hybrid_detector("h", net, refinement).detect(line_profiles))
        if refinement is adaptive:  # negative control: the network's own head places the lines elsewhere
            own = golden_detector("net", net).detect(line_profiles)[1]
            assert not np.array_equal(pos[found], own[found])
    assert compared > 0


@pytest.mark.parametrize("kind", [".npy", ".npz", ".csv"])
def test_arrays_of_profiles_are_read_row_by_row(tmp_path: Path, line_profiles: np.ndarray, kind: str) -> None:
    path = tmp_path / f"profiles{kind}"
    if kind == ".npy":
        np.save(path, line_profiles.astype(np.uint16))
    elif kind == ".npz":
        np.savez(path, profiles=line_profiles.astype(np.uint16), centre=np.zeros(COUNT))
    else:
        np.savetxt(path, line_profiles, fmt="%d", delimiter=",")
    assert main(["detect", str(path), "--detector", "gaussian", "--threshold", "10", "--out", str(tmp_path / "o")]) == 0
    rows, found, pos = read_positions(tmp_path / "o" / "positions.csv")
    assert assert_same_detections(found, pos, make_detector("gaussian", None, 10).detect(line_profiles)) > 0
    assert "row" in rows[0] and not (tmp_path / "o" / "overlays").exists()


def test_a_keras_network_runs_through_its_float_scores(tmp_path: Path, line_profiles: np.ndarray) -> None:
    from workbench.nn.detectors import float_detector, model_scores
    from workbench.nn.models import build_float_model, default_spec

    model = build_float_model(default_spec("8/8"))
    model.save(tmp_path / "float.keras")
    image = write_image(tmp_path / "frame.png", line_profiles.T.astype(np.uint8))
    assert main(["detect", str(image), "--detector", str(tmp_path / "float.keras"), "--out", str(tmp_path / "o")]) == 0
    _, found, pos = read_positions(tmp_path / "o" / "positions.csv")
    assert assert_same_detections(found, pos, float_detector("f", model_scores(model)).detect(line_profiles)) == COUNT
    image16 = write_image(tmp_path / "frame16.png", line_profiles.T.astype(np.uint16))
    assert main(["detect", str(image16), "--detector", str(tmp_path / "float.keras"), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_a_document_needs_no_tensorflow(tmp_path: Path, line_profiles: np.ndarray, network: Path) -> None:
    image = write_image(tmp_path / "frame.png", line_profiles.T.astype(np.uint8))
    script = ("import sys\nfrom workbench.cli import main\n"
              f"assert main(['detect', {str(image)!r}, '--detector', {str(network)!r}, '--out', {str(tmp_path / 'o')!r}]) == 0\n"
              "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _bad_inputs(tmp: Path, profiles: np.ndarray, network: Path) -> dict[str, tuple[list[str], str]]:
    """Each bad input: the command's arguments (before --out) and a phrase its error must contain."""
    frame8 = profiles.T.astype(np.uint8)
    (tmp / "empty.png").write_bytes(b"")
    (tmp / "junk.tif").write_bytes(b"not an image at all")
    (tmp / "noimages").mkdir()
    (tmp / "mixed").mkdir()
    write_image(tmp / "mixed" / "a.png", frame8)
    write_image(tmp / "mixed" / "b.png", frame8[:, :5])
    np.save(tmp / "floats.npy", profiles + 0.5)
    np.save(tmp / "negative.npy", profiles - 300)
    np.save(tmp / "empty.npy", np.zeros((0, 8)))
    return {
        "16-bit image, 8-bit network": ([str(write_image(tmp / "f16.png", frame8.astype(np.uint16) << 8)),
                                         "--detector", str(network)], "16-bit"),
        "empty file": ([str(tmp / "empty.png"), "--detector", "br8"], "is empty"),
        "unreadable file": ([str(tmp / "junk.tif"), "--detector", "br8"], "cannot read"),
        "missing file": ([str(tmp / "nothing.png"), "--detector", "br8"], "does not exist"),
        "unknown suffix": ([str(network), "--detector", "br8"], "allowed"),
        "colour PNG": ([str(write_image(tmp / "rgb.png", np.stack([frame8] * 3, axis=-1))), "--detector", "br8"],
                       "not colour"),
        "colour TIFF": ([str(write_image(tmp / "rgb.tif", np.stack([frame8] * 3, axis=-1))), "--detector", "br8"],
                         "not colour"),
        "folder without images": ([str(tmp / "noimages"), "--detector", "br8"], "holds no image"),
        "frames of two sizes": ([str(tmp / "mixed"), "--detector", "br8"], "one size and depth"),
        "non-integer values": ([str(tmp / "floats.npy"), "--detector", "br8"], "non-integer"),
        "negative values": ([str(tmp / "negative.npy"), "--detector", "br8"], "negative value"),
        "empty array": ([str(tmp / "empty.npy"), "--detector", "br8"], "non-empty"),
        "unknown method": ([str(tmp / "f16.png"), "--detector", "br9"], "unknown classical method"),
        "bad window": ([str(tmp / "f16.png"), "--detector", "cog", "--window", "5"], "window 5.0 invalid"),
        "window on a network": ([str(tmp / "f16.png"), "--detector", str(network), "--window", "2"],
                                "classical methods only"),
        "bad orientation": ([str(tmp / "f16.png"), "--detector", "br8", "--along", "diagonal"], "diagonal"),
        "bad depth": ([str(tmp / "f16.png"), "--detector", "br8", "--depth", "9"], "--depth 9 invalid"),
        "values above the declared depth": ([str(tmp / "f16.png"), "--detector", "br8", "--depth", "8"],
                                            "above the declared 8-bit"),
        "rescale for a classical method": ([str(tmp / "f16.png"), "--detector", "br8", "--rescale"], "--rescale"),
        "broken document": ([str(tmp / "f16.png"), "--detector", str(tmp / "empty.json")], "document"),
    }


def test_every_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, line_profiles: np.ndarray,
                                                                  network: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty.json").write_text("{}")
    cases = _bad_inputs(tmp_path, line_profiles, network)
    for label, (args, phrase) in cases.items():
        out = tmp_path / "out" / label.replace(" ", "_")
        assert main(["detect", *args, "--out", str(out)]) == 2, label
        err = capsys.readouterr().err.strip()
        assert err.startswith("workbench detect: error: ") and "\n" not in err, (label, err)
        assert phrase in err, (label, err)
        assert not out.exists(), label
    assert len(cases) == 20


def test_the_depth_error_names_both_depths_and_the_rescale_option(tmp_path: Path, line_profiles: np.ndarray,
                                                                  network: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    image = write_image(tmp_path / "f16.tif", line_profiles.T.astype(np.uint16) << 8)
    assert main(["detect", str(image), "--detector", str(network), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "16-bit" in err and "8-bit" in err and "--rescale" in err


def test_detect_has_help(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["detect", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: workbench detect" in out and "--rescale" in out and "--along" in out

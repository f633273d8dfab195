"""CLI `generate` / `evaluate`: outputs, and bad input as a one-line error with exit code 2."""
import csv

import pytest

from workbench.cli import main
from workbench.data.datasets import load, manifest_path


def _gen(tmp_path, *extra):
    return main(["generate", "--preset", "snr_32", "-n", "300", "--length", "64", "--seed", "3",
                 "--out", str(tmp_path / "d"), *extra])


def test_generate_writes_a_valid_dataset_and_evaluate_writes_csv_and_figures(tmp_path, capsys):
    assert _gen(tmp_path) == 0
    path = next((tmp_path / "d").glob("*.npz"))
    dataset = load(path)
    assert dataset.profiles.shape == (300, 64) and dataset.condition == "snr_32"
    out = tmp_path / "e"
    assert main(["evaluate", str(path), "--methods", "argmax,br4", "--draws", "50", "--out", str(out)]) == 0
    with open(out / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["condition"], r["bits"], r["snr"]) for r in rows] == [
        ("argmax", "snr_32", "", "32"), ("br4", "snr_32", "", "32")]
    assert float(rows[1]["rmse_px"]) < float(rows[0]["rmse_px"])
    assert (out / "examples.png").stat().st_size > 1000 and (out / "rmse_vs_snr.png").exists()


def test_evaluate_regenerates_a_truncated_file_from_its_manifest(tmp_path):
    _gen(tmp_path)
    path = next((tmp_path / "d").glob("*.npz"))
    good = load(path).manifest["sha256"]
    path.write_bytes(path.read_bytes()[:100])
    assert main(["evaluate", str(path), "--methods", "argmax", "--draws", "10", "--out", str(tmp_path / "e")]) == 0
    assert load(path).manifest["sha256"] == good


@pytest.mark.parametrize("argv, message", [
    (["generate", "--preset", "nope"], "unknown preset 'nope'"),
    (["generate", "--bits", "9"], "sensor depth 9 bits not supported"),
    (["generate", "--length", "16"], "profile length 16 out of range"),
    (["generate", "-n", "0"], "number of profiles 0 out of range"),
    (["generate", "-n", "999999999"], "number of profiles 999999999 out of range"),
    (["evaluate", "missing.npz"], "dataset file 'missing.npz' is missing"),
])
def test_bad_input_exits_2_with_one_line_message(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "generate" else [])) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_evaluate_rejects_unknown_method_and_lost_manifest(tmp_path, capsys):
    _gen(tmp_path)
    path = next((tmp_path / "d").glob("*.npz"))
    assert main(["evaluate", str(path), "--methods", "argmax,magic"]) == 2
    assert "unknown classical method 'magic'" in capsys.readouterr().err
    manifest_path(path).unlink()
    assert main(["evaluate", str(path)]) == 2
    assert "manifest" in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in ("generate", "evaluate"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: workbench " + command in capsys.readouterr().out

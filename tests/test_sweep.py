"""Sweeps on Dask: a tiny grid on a 2-worker LocalCluster, its cache, and spec validation before any task."""
from __future__ import annotations

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from workbench.errors import ConfigError  # noqa: E402
from workbench.evaluation.tables import read_csv  # noqa: E402
from workbench.pipeline.sweep import load_spec, parse_spec, run_sweep, summarize  # noqa: E402

TINY_SPEC = """
seeds = [0, 1]

[data]
train = 200
val = 200
test = 200
length = 64

[grid]
bits = ["3/3", "4/4"]

[training]
topology = "c2k3,c1k3"
epochs = 1
finetune_epochs = 0
"""


def test_tiny_grid_runs_on_a_local_cluster_then_comes_from_the_cache(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(TINY_SPEC)
    out, data = tmp_path / "sweep", tmp_path / "data"
    first = run_sweep(spec, out, data, workers=2, tf_threads=1, progress=False)
    assert (first.computed, first.cached) == (4, 0)
    runs = read_csv(first.runs)
    assert sorted((row["configuration"].split()[0], row["seed"]) for row in runs) == [
        ("3/3", 0), ("3/3", 1), ("4/4", 0), ("4/4", 1)]
    assert all(row["n"] == 200 and 0 <= row["miss_rate"] <= 1 and row["train_seconds"] > 0 for row in runs)
    summary = read_csv(first.summary)
    assert [row["seeds"] for row in summary] == [2, 2]
    for row in summary:
        values = [r["miss_rate"] for r in runs if r["configuration"] == row["configuration"]]
        # runs.csv and summary.csv both hold 6 significant digits: the mean of two rounded values and the
        # rounded mean can differ by one unit in the 6th digit
        assert row["miss_rate_mean"] == pytest.approx(sum(values) / 2, rel=2e-5)
        assert row["miss_rate_min"] == min(values) and row["miss_rate_max"] == max(values)
    assert len(list((out / "tasks").iterdir())) == 4
    tables = first.runs.read_text(), first.summary.read_text()
    second = run_sweep(spec, out, data, workers=2, tf_threads=1, progress=False)
    assert (second.computed, second.cached) == (0, 4)
    assert (second.runs.read_text(), second.summary.read_text()) == tables


def test_summary_gives_mean_and_spread_across_seeds():
    rows = [{"configuration": "a", "rmse_px": v, "miss_rate": 0.0, "false_alarm_rate": math.nan,
             "gross_error_rate": 0.0, "bias_px": 0.0} for v in (1.0, 2.0, 3.0)]
    (entry,) = summarize(rows)
    assert (entry["seeds"], entry["rmse_px_mean"], entry["rmse_px_std"]) == (3, 2.0, 1.0)
    assert (entry["rmse_px_min"], entry["rmse_px_max"]) == (1.0, 3.0)
    assert math.isnan(entry["false_alarm_rate_mean"])


def test_grid_expands_to_every_configuration():
    spec = parse_spec({"seeds": [3], "grid": {"bits": ["4/4", "2/2"], "epochs": [1, 2]},
                       "training": {"topology": "c4k3,c1k1"}})
    assert [c.label for c in spec.configurations] == [
        "4/4 c4k3,c1k1 learned epochs=1", "4/4 c4k3,c1k1 learned epochs=2",
        "2/2 c4k3,c1k1 learned epochs=1", "2/2 c4k3,c1k1 learned epochs=2"]
    assert spec.data["length"] == 256 and spec.seeds == (3,)


@pytest.mark.parametrize("raw, message", [
    ({"seeds": [0], "grid": {"bitz": ["4/4"]}}, "'bitz'"),
    ({"seeds": [0], "colour": 1}, "'colour'"),
    ({"seeds": [], "grid": {}}, "seeds"),
    ({"seeds": [0, 0]}, "seeds"),
    ({"seeds": [0], "grid": {"bits": "4/4"}}, "grid.bits"),
    ({"seeds": [0], "grid": {"topology": ["c8k7,x3,c1k3"]}}, "'x3'"),
    ({"seeds": [0], "grid": {"bits": ["4-4-4/4"]}}, "4-4-4/4"),
    ({"seeds": [0], "training": {"epochs": 0}}, "epochs"),
    ({"seeds": [0], "training": {"scale_mode": "magic"}}, "scale_mode"),
    ({"seeds": [0], "data": {"train": 0}}, "data.train"),
    ({"seeds": [0], "data": {"condition": "moon"}}, "data.condition"),
    ({"seeds": [0], "grid": {"epochs": [1]}, "training": {"epochs": 2}}, "grid.epochs"),
])
def test_bad_specs_are_rejected_naming_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(raw)


def test_bad_spec_fails_before_any_task(tmp_path, capsys):
    from workbench.cli import main

    spec = tmp_path / "bad.toml"
    spec.write_text(TINY_SPEC.replace("epochs = 1\n", "epochs = 1\nepoch = 2\n", 1))
    with pytest.raises(ConfigError, match="'epoch'"):
        load_spec(spec)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "'epoch'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    spec.write_text("seeds = [0\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


@pytest.mark.slow
def test_a_task_whose_worker_is_killed_runs_again_on_a_given_scheduler(tmp_path):
    import signal
    import threading
    import time

    from distributed import Client, LocalCluster

    spec = tmp_path / "sweep.toml"
    spec.write_text(TINY_SPEC.replace('bits = ["3/3", "4/4"]', 'bits = ["3/3"]'))
    out, tasks = tmp_path / "sweep", tmp_path / "sweep" / "tasks"
    finished = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        runner = threading.Thread(target=lambda: finished.update(result=run_sweep(
            spec, out, tmp_path / "data", scheduler=cluster.scheduler_address, progress=False)))
        runner.start()
        deadline = time.monotonic() + 300
        while not list(tasks.glob(".*.partial")) and time.monotonic() < deadline:
            time.sleep(0.2)
        killed_partials = {p.name for p in tasks.glob(".*.partial")}
        busy = [address for address, keys in client.processing().items() if keys]
        os.kill(client.run(os.getpid)[busy[0]], signal.SIGKILL)
        runner.join(600)
    result = finished["result"]
    assert killed_partials and (result.computed, result.cached) == (2, 0)
    assert sorted(row["seed"] for row in read_csv(result.runs)) == [0, 1]
    assert sorted(p.name for p in tasks.iterdir()) == sorted(row["key"] for row in read_csv(result.runs))

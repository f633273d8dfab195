"""The run_all `range_maps` stage on small stand-ins for its inputs: its table is what `range_maps` computes."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from experiments.stages import range_maps as stage
from workbench.data.datasets import benchmark_splits, split_seed, write_split_index
from workbench.data.frames import Geometry, Scene, render_frames
from workbench.data.signals import preset
from workbench.detectors import classical
from workbench.evaluation.range_maps import range_maps
from workbench.evaluation.tables import read_csv
from workbench.pipeline.stages import RunConfig, StageContext
from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.detector import golden_detector

SETTINGS = {"methods": ["argmax", "br8"], "preset": "snr_32", "scenes": ["steps", "ramp"], "frames": 4,
            "columns": 24, "height_mm": 2.0, "scan_step_mm": 0.4}


def _inputs(tmp_path: Path) -> dict[str, Path]:
    """datasets (an index of tiny splits), classical (choices tuned on validation), training (one document)."""
    deps = {name: tmp_path / name for name in ("datasets", "classical", "training")}
    for folder in deps.values():
        folder.mkdir()
    splits = benchmark_splits(1, {"train": 10, "val": 600, "test": 10}, tmp_path / "data", conditions=("mixed",))
    write_split_index(splits, deps["datasets"])
    choices = {name: record for name, (_, record) in zip(SETTINGS["methods"],
                                                         classical.tune_all(SETTINGS["methods"], splits.val))}
    (deps["classical"] / "classical_choices.json").write_text(json.dumps(choices))
    layer = {"type": "qconv1d", "name": "conv0", "kernel_size": 3, "in_channels": 1, "out_channels": 1,
             "weight_bits": 3, "weights": [[[1]], [[2]], [[1]]], "bias": [0]}
    doc = fill_ranges({"format": "qnn-int/1", "input": {"bits": 8}, "layers": [layer], "metadata": {"bits": "3/-"},
                       "head": {"type": "peak", "refine": "parabolic", "window": 1, "threshold": 60, "frac_bits": 6}})
    (deps["training"] / "models").mkdir()
    (deps["training"] / "models" / "qat_fir.json").write_text(json.dumps(doc))
    return deps


def test_stage_table_equals_range_maps_on_the_same_detectors_and_frames(tmp_path: Path) -> None:
    deps = _inputs(tmp_path)
    out = tmp_path / "out"
    ctx = StageContext("range_maps", out, deps, RunConfig("quick", 3), SETTINGS, logging.getLogger("test"), tmp_path)
    stage.run(ctx)
    rows = read_csv(out / "tables" / "range_maps.csv")
    assert [(r["method"], r["scene"]) for r in rows] == [(m, s) for s in ("steps", "ramp")
                                                         for m in ("argmax", "br8", "qat_fir")]
    choices = json.loads((deps["classical"] / "classical_choices.json").read_text())
    detectors = [classical.make_detector(n, choices[n]["window"], choices[n]["threshold"]) for n in SETTINGS["methods"]]
    detectors.append(golden_detector("qat_fir", load_network(deps["training"] / "models" / "qat_fir.json"), "3/-"))
    geometry = Geometry(rows=256, columns=24, reference_row=round(stage.REFERENCE_ROW_SHARE * 255))
    compared = 0
    for kind in ("steps", "ramp"):
        frame_set = render_frames(Scene(kind, height_mm=2.0, frames=4, scan_step_mm=0.4), geometry,
                                  preset("snr_32"), split_seed(3, "frames", kind))
        _, want = range_maps(detectors, frame_set)
        got = [r for r in rows if r["scene"] == kind]
        for mine, theirs in zip(got, want):
            for key in ("n", "rmse_px", "rmse_mm", "gross_error_rate", "miss_rate"):
                assert np.isclose(mine[key], theirs[key], rtol=1e-5, atol=1e-9), (kind, mine["method"], key)
                compared += 1
    assert compared == 2 * 3 * 5
    assert all(r["rmse_mm"] < 0.2 for r in rows)  # every detector recovers the heights to a fraction of a mm
    assert (out / "figures" / "range_map_steps.png").stat().st_size > 0
    assert "| qat_fir (3/--bit) |" in (out / "report" / "range_maps.md").read_text()

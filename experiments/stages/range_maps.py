"""Stage `range_maps`: the range map every detector recovers from camera frames of each scene.

Renders frames of each scene (`workbench.data.frames`, default geometry, noise from the `preset`
setting, a seed per scene from the run seed), runs every classical detector with the window and
threshold the `classical` stage chose on validation data and every network of the `training` stage
(the float model, thresholded for 1% false alarms on the validation set, and each `qnn-int/1` document
with its own threshold, on the golden model), and writes `tables/range_maps.csv` (RMSE in px and mm per
detector and scene), `figures/range_map_<scene>.png` (true heights and every detector's error map)
and `report/range_maps.md`.
"""
from __future__ import annotations

import json
from pathlib import Path

from workbench.data.datasets import Dataset, load_stage_splits, split_seed
from workbench.data.frames import Geometry, Scene, render_frames
from workbench.data.signals import preset
from workbench.detectors import classical
from workbench.detectors.interface import ThresholdedDetector
from workbench.evaluation.dataset_comparison import network_detector
from workbench.evaluation.plots import method_label, plot_range_maps
from workbench.evaluation.range_maps import RANGE_COLUMNS, range_maps
from workbench.evaluation.tables import write_csv
from workbench.pipeline.stages import Stage, StageContext
from workbench.qnn.artifacts import documents

FLOAT_MODEL = "float.keras"
REFERENCE_ROW_SHARE = 0.78  # the reference plane's row, as a share of the frame height


def stage_detectors(ctx: StageContext, methods: list[str], validation: Dataset) -> list[ThresholdedDetector]:
    """The chosen classical detectors, then the float network (if trained) and every document."""
    choices = json.loads((ctx.dep("classical") / "classical_choices.json").read_text())
    detectors = [classical.make_detector(name, choices[name]["window"], choices[name]["threshold"]) for name in methods]
    models = ctx.dep("training") / "models"
    networks: list[Path] = [models / FLOAT_MODEL] if (models / FLOAT_MODEL).is_file() else []
    networks += documents(models)
    return detectors + [network_detector(path, validation, recalibrate=False)[0] for path in networks]


def _markdown(rows: list[dict], scenes: list[str]) -> str:
    lines = ["## Range maps from camera frames", "",
             "Every detector on every column of the frames of each scene (`docs/frames.md`): height RMSE in mm "
             "(rows in px in brackets) over the columns found within 1 px of the true row; gross errors and "
             "misses in `tables/range_maps.csv`.", "",
             "| method | " + " | ".join(scenes) + " |", "|---" * (len(scenes) + 1) + "|"]
    for label in dict.fromkeys(method_label(r) for r in rows):
        cells = {r["scene"]: f"{r['rmse_mm']:.3g} ({r['rmse_px']:.3g})" for r in rows if method_label(r) == label}
        lines.append(f"| {label} | " + " | ".join(cells.get(scene, "-") for scene in scenes) + " |")
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> None:
    s = ctx.settings
    validation = load_stage_splits(ctx.dep("datasets")).val
    detectors = stage_detectors(ctx, s["methods"], validation)
    config = preset(s["preset"], bits=validation.config.bits)
    length = validation.config.length
    geometry = Geometry(rows=length, columns=s["columns"], reference_row=round(REFERENCE_ROW_SHARE * (length - 1)))
    rows = []
    for kind in s["scenes"]:
        scene = Scene(kind, height_mm=s["height_mm"], frames=s["frames"], scan_step_mm=s["scan_step_mm"])
        frame_set = render_frames(scene, geometry, config, split_seed(ctx.config.seed, "frames", kind))
        maps, table = range_maps(detectors, frame_set)
        rows += table
        plot_range_maps(frame_set.heights, {method_label(r): m.error_mm for r, m in zip(table, maps)},
                        ctx.out / "figures" / f"range_map_{kind}.png",
                        f"Height error of every detector: {kind}, preset {s['preset']}")
        ctx.log.info("  range maps %s: %d detectors x %d columns", kind, len(detectors), frame_set.rows.size)
    write_csv(rows, ctx.out / "tables" / "range_maps.csv", RANGE_COLUMNS)
    (ctx.out / "report").mkdir(parents=True, exist_ok=True)
    (ctx.out / "report" / "range_maps.md").write_text(_markdown(rows, s["scenes"]))


# the study mode (run_all --study) trains more networks; its later stages are the quick run's
QUICK = {"methods": ["argmax", "cog", "parabolic", "gaussian", "br8", "forest"], "preset": "snr_16",
         "scenes": ["steps", "sphere", "ramp"], "frames": 16, "columns": 128, "height_mm": 2.5,
         "scan_step_mm": 0.4}

STAGE = Stage(
    name="range_maps",
    run=run,
    depends=("datasets", "classical", "training"),
    description="range maps of every detector from camera frames of three scenes",
    settings={"quick": QUICK, "study": QUICK,
              "full": {"methods": list(classical.METHODS), "preset": "snr_16", "scenes": ["steps", "sphere", "ramp"],
                       "frames": 32, "columns": 256, "height_mm": 5.0, "scan_step_mm": 0.4}},
)

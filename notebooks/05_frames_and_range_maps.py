# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Camera frames and range maps
#
# A laser-triangulation scanner does not see profiles: it sees camera frames, a laser line bending over
# the object, one frame per scan position. This notebook
#
# 1. states the triangulation geometry (`workbench.data.frames.Geometry`) and how a height becomes a row;
# 2. builds three scenes (a plane with steps, a sphere, a ramp) and renders their frames with the same
#    noise, reflection and saturation models as the profiles, with the true line row per column;
# 3. writes the frames as a TIFF stack and runs `workbench detect` on them (CSV and overlays);
# 4. puts classical detectors and a small quantized network (golden model) side by side on the range
#    map each recovers: height error maps and RMSE in pixels and millimetres.
#
# Orientation: the hardware takes one profile per camera column (the line runs across the columns); a
# camera that reads out rows needs the frame buffered and transposed first (`docs/frames.md`).

# %%
# Parameters. The test suite sets WORKBENCH_SMALL=1 and gets a quick run; the default is larger.
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

SMALL = os.environ.get("WORKBENCH_SMALL", "0") == "1"
# Files this notebook writes go here (outside the repository when run by the test suite).
OUT = Path(os.environ.get("WORKBENCH_NOTEBOOK_OUT", "notebook_output")) / "05_frames"
OUT.mkdir(parents=True, exist_ok=True)
ROWS = 128 if SMALL else 256           # frame height = profile length
COLUMNS = 64 if SMALL else 256         # one profile per column
FRAMES = 12 if SMALL else 32           # scan positions
HEIGHT_MM = 1.2 if SMALL else 5.0      # the scenes' tallest point
N_VAL = 1000 if SMALL else 8000        # validation profiles for thresholds and windows
N_TRAIN = 1500 if SMALL else 20000     # training profiles of the small network
EPOCHS = 2 if SMALL else 20
SEED = 2023
print("small mode" if SMALL else "default mode", "| output folder:", OUT.resolve())

# %%

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, display

from workbench.data import frames, signals
from workbench.data.datasets import load_or_generate
from workbench.detectors import classical
from workbench.evaluation import plots, range_maps
from workbench.evaluation.line_detection import DetectRequest, detect_files
# %matplotlib inline

# %% [markdown]
# ## 1 · The geometry
#
# The laser sheet stands on the reference plane; the camera sits `baseline` away from it and looks at
# the sheet at the triangulation angle. A point `z` mm high is imaged `magnification * sin(angle) /
# pixel_pitch` rows higher per mm near the reference plane, exactly (pinhole model) as `row_of_height`
# computes; `height_of_row` inverts it.

# %%
geometry = frames.Geometry(rows=ROWS, columns=COLUMNS, reference_row=round(0.78 * (ROWS - 1)))
print(geometry)
print(f"working distance {geometry.working_distance_mm:.1f} mm, focal length {geometry.focal_mm:.1f} mm, "
      f"{geometry.column_mm:.3f} mm per column")
z = np.linspace(0, HEIGHT_MM, 50)
rows = geometry.row_of_height(z)
print(f"rows per mm near z = 0: {(geometry.row_of_height(1e-6) - geometry.row_of_height(0)) / -1e-6:.2f}")
print("round trip z -> row -> z, largest error (mm):", float(np.abs(geometry.height_of_row(rows) - z).max()))
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(z, rows)
ax.set_xlabel("height z (mm)")
ax.set_ylabel("image row of the line")
ax.invert_yaxis()
plt.show()

# %% [markdown]
# ## 2 · Scenes and frames
#
# Each scene is a height map over (scan position, column). Every column of every frame is one profile
# rendered by the profile generator with its line at the true row: here the `snr_16` preset (SNR 16,
# no reflections) and `reflections` (SNR 8-64, one or two secondary peaks in every column).

# %%
config = signals.preset("snr_16")
scenes = {kind: frames.Scene(kind, height_mm=HEIGHT_MM, frames=FRAMES, scan_step_mm=0.4) for kind in frames.SCENES}
sets = {kind: frames.render_frames(scene, geometry, config, SEED + k) for k, (kind, scene) in enumerate(scenes.items())}
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, (kind, frame_set) in zip(axes, sets.items()):
    image = ax.imshow(frame_set.heights, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="mm")
    ax.set_title(f"{kind}: height map")
    ax.set_xlabel("column")
    ax.set_ylabel("frame")
plt.tight_layout()
plt.show()
for kind, frame_set in sets.items():
    agree = np.abs(frame_set.geometry.height_of_row(frame_set.rows) - frame_set.heights).max()
    print(f"{kind}: truth rows {frame_set.rows.min():.1f}..{frame_set.rows.max():.1f}, "
          f"height from the true rows vs the height map: largest difference {agree:.1e} mm")

# %%
middle = FRAMES // 2
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (label, config_k) in zip(axes, [("snr_16", config), ("reflections", signals.preset("reflections"))]):
    frame_set = frames.render_frames(scenes["sphere"], geometry, config_k, SEED)
    ax.imshow(frame_set.frames[middle], cmap="gray", vmin=0, vmax=255, aspect="auto")
    ax.plot(np.arange(COLUMNS), frame_set.rows[middle], color="lime", linewidth=0.8, label="true row")
    ax.set_title(f"sphere, frame {middle}, preset {label}")
    ax.legend(loc="upper right")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3 · `workbench detect` on the saved frames
#
# `frames.generate_frames` writes `frames.tif` (a stack), `truth.npz` and `frames.json`, as
# `workbench generate --frames` does; `detect_files` is what `workbench detect` runs: it reads the
# stack, takes one profile per column, and writes `positions.csv` and an overlay per frame.

# %%
_, paths = frames.generate_frames(scenes["steps"], geometry, config, SEED, OUT / "steps")
print([p.name for p in paths])
detections, written = detect_files(DetectRequest(paths[0], "br8", OUT / "detect_steps", threshold=20))
print(f"{int(detections.found.sum())} of {detections.found.size} columns with a line; wrote {written[0].name} "
      f"and {len(written) - 1} overlays")
print(written[0].read_text().splitlines()[:4])
display(Image(filename=str(written[1 + middle]), width=360))

# %% [markdown]
# ## 4 · Detectors on the range map
#
# Thresholds and windows come from a validation set of profiles (1 % false alarms on its empty profiles),
# never from the frames. The network is a small quantization-aware 4/4 model trained for a few epochs
# and exported to `qnn-int/1`; the golden model runs it on the frames exactly as the hardware would.

# %%
val_set = load_or_generate(signals.preset("mixed", length=ROWS), SEED + 10, N_VAL, OUT / "data", condition="val")
methods = ["argmax", "parabolic", "gaussian", "br8", "forest"]
detectors = [detector for detector, _ in classical.tune_all(methods, val_set)]
for detector in detectors:
    print(f"{detector.name:10s} window {dict(detector.params).get('window', '-')!s:5s} threshold {detector.threshold:.3g}")

# %%
from workbench.nn import models, training
from workbench.nn.detectors import calibrated_export

train_config = training.TrainConfig(epochs=EPOCHS, finetune_epochs=1, seed=SEED)
train = training.training_data(*signals.generate(signals.preset("mixed", length=ROWS), N_TRAIN, SEED + 20), train_config)
val = training.training_data(val_set.profiles, val_set.truth, train_config)
trained = training.train_qat(models.default_spec("4/4"), train, val, train_config, OUT / "models", name="qat",
                             progress=lambda line: None)
document, network = calibrated_export("qat 4/4 (golden)", trained.model, val_set.profiles[val_set.truth["empty"]], "4/4")
print("network threshold (score units):", document["head"]["threshold"])
detectors.append(network)

# %%
summary = []
for kind, frame_set in sets.items():
    maps, rows_k = range_maps.range_maps(detectors, frame_set)
    summary += rows_k
    path = plots.plot_range_maps(frame_set.heights, {plots.method_label(r): m.error_mm for r, m in zip(rows_k, maps)},
                                 OUT / f"range_map_{kind}.png", f"Height error: {kind}")
    display(Image(filename=str(path), width=900))

# %%
print(f"{'method':22s} {'scene':7s} {'RMSE px':>8s} {'RMSE mm':>8s} {'gross':>7s} {'miss':>7s}")
for row in summary:
    print(f"{plots.method_label(row):22s} {row['scene']:7s} {row['rmse_px']:8.3f} {row['rmse_mm']:8.4f} "
          f"{row['gross_error_rate']:7.3f} {row['miss_rate']:7.3f}")

# %% [markdown]
# On the ramp the true row changes steadily across the columns, so the integer argmax's rounding error
# is a sawtooth across them; the sub-pixel detectors reduce it, and the quantized network, briefly
# trained here, is compared on the same frames with the same rule for its threshold. `run_all` draws the same maps for every trained network and classical method in its
# `range_maps` stage (`tables/range_maps.csv`, `figures/range_map_<scene>.png`).

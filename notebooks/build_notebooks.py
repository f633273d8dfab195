#!/usr/bin/env python3
"""Write the walkthrough notebooks of `notebooks/` (cleared, no outputs) from the cell lists below.

    .venv/bin/python notebooks/build_notebooks.py          # rewrite every notebook
    .venv/bin/python notebooks/build_notebooks.py 03       # only those whose name starts with 03

The `.ipynb` files are what users open and what `tests/test_notebooks.py` executes; this script only
keeps their source reviewable as Python and their metadata and cell ids stable. Edit the cells here,
rerun the script, and commit both.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
    "language_info": {"name": "python", "version": "3.11", "mimetype": "text/x-python",
                      "file_extension": ".py", "pygments_lexer": "ipython3",
                      "codemirror_mode": {"name": "ipython", "version": 3},
                      "nbconvert_exporter": "python"},
}


def setup_cell(folder: str, parameters: str) -> str:
    """The first code cell of every notebook: small/default parameters and the output folder."""
    return f'''# Parameters. The test suite sets WORKBENCH_SMALL=1 and gets a quick run; the default is larger.
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

SMALL = os.environ.get("WORKBENCH_SMALL", "0") == "1"
# Files this notebook writes go here (outside the repository when run by the test suite).
OUT = Path(os.environ.get("WORKBENCH_NOTEBOOK_OUT", "notebook_output")) / "{folder}"
OUT.mkdir(parents=True, exist_ok=True)
{parameters.strip()}
print("small mode" if SMALL else "default mode", "| output folder:", OUT.resolve())'''

# --------------------------------------------------------------------------------------------------
# 01: signals and classical detectors
# --------------------------------------------------------------------------------------------------
NB01 = [
    ("md", """# 01 · Laser-line profiles and classical peak detectors

In a laser-triangulation scanner every sensor column crosses the projected laser line once; the line's
sub-pixel centre in that column *is* the depth measurement. This notebook shows

1. the seeded profile generator (`workbench.signals`): pixel-integrated Gaussian lines, background,
   secondary reflections, shot + read noise, saturation and empty profiles, with per-profile ground truth;
2. the named presets the evaluation sweeps (SNR, sigma, reflections, saturation) and datasets on disk
   (`workbench.datasets`: `.npz` + manifest, reused when valid);
3. the classical detectors (`workbench.classical`) the networks are compared with, their thresholds set
   for the same 1 % false-alarm rate on empty *validation* profiles, and
4. their RMSE against SNR and their S-curve (bias against the sub-pixel phase) on a small test set."""),
    ("code", setup_cell("01_signals", """
LENGTH = 128 if SMALL else 256         # pixels per profile
N_EXAMPLES = 400 if SMALL else 4000    # profiles drawn to pick examples from
N_VAL = 400 if SMALL else 4000         # validation profiles (mixed preset) to tune thresholds/windows
N_TEST = 300 if SMALL else 2000        # test profiles per SNR condition
SEED = 2023
""")),
    ("code", """import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, display

from workbench import classical, datasets, evaluation, plots, signals
%matplotlib inline"""),
    ("md", """## 1 · The generator

Every parameter lives in one frozen dataclass, `signals.GeneratorConfig`; amplitudes and backgrounds are
fractions of full scale (`2^bits - 1`). The defaults (the `mixed` preset, used for training and
validation) are physically motivated: `sigma` 0.7–3 px, amplitude log-uniform up to twice full scale (so
some profiles saturate), 30 % of profiles with one or two weaker, possibly wider reflections, 10 % with no
line at all."""),
    ("code", """config = signals.preset("mixed", length=LENGTH)
for key, value in config.to_dict().items():
    print(f"{key:28s} {value}")
print(f"{'read noise [DN]':28s} {config.read_noise_dn:.2f}   (electrons per DN: {config.electrons_per_dn:.1f})")"""),
    ("code", """profiles, truth = signals.generate(config, N_EXAMPLES, seed=SEED)
print("profiles:", profiles.shape, profiles.dtype, "| truth keys:", list(truth))
for flag in ("saturated", "reflection", "empty"):
    print(f"  {flag:10s}: {truth[flag].mean():5.1%} of the profiles")
print("same seed, same data:", np.array_equal(profiles, signals.generate(config, N_EXAMPLES, seed=SEED)[0]))"""),
    ("md", """Four typical cases: a clean line, a saturated one (flat top at full scale, where 3-point estimators
lose their curvature), one with a secondary reflection (a weaker peak that an arg-max may still pick when
noise is high), and an empty profile (background and noise only: what false alarms are made of)."""),
    ("code", """clean = ~truth["saturated"] & ~truth["reflection"] & ~truth["empty"] & (truth["snr"] > 10)
cases = {"clean": clean, "saturated": truth["saturated"], "reflection": truth["reflection"] & ~truth["saturated"] & (truth["snr"] > 8),
         "empty": truth["empty"]}
fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex=True)
x = np.arange(LENGTH)
for ax, (name, mask) in zip(axes.ravel(), cases.items()):
    if not mask.any():
        ax.set_title(f"{name}: none drawn"); continue
    k = int(np.flatnonzero(mask)[0])
    ax.plot(x, profiles[k], drawstyle="steps-mid", color="k", lw=1)
    ax.axhline(config.full_scale, color="gray", ls=":", lw=1, label="full scale")
    if not truth["empty"][k]:
        ax.axvline(truth["centre"][k], color="tab:green", ls="--", label="true centre")
    ax.set_title(f"{name} (#{k}): SNR {truth['snr'][k]:.1f}, sigma {truth['sigma'][k]:.2f} px")
    ax.set_ylabel("value [DN]")
axes[0, 0].legend(fontsize=8)
for ax in axes[1]:
    ax.set_xlabel("pixel")
fig.suptitle("Generated profiles (8-bit sensor) with their ground truth")
fig.tight_layout()"""),
    ("md", """## 2 · Presets: the evaluation conditions

The SNR is the line amplitude over the noise standard deviation at the peak (read and shot noise
together). The `snr_*` presets fix it (and solve for the amplitude), the `sigma_*` presets fix the line
width, `reflections`/`no_reflections` and `saturated`/`unsaturated` isolate one effect each."""),
    ("code", """for name, preset_config in signals.PRESETS.items():
    print(f"{name:15s} snr={preset_config.snr_range}  sigma={preset_config.sigma_range}  "
          f"reflections={preset_config.reflection_fraction:.0%}  empty={preset_config.empty_fraction:.0%}")"""),
    ("code", """snrs = signals.SWEEP_SNRS
fig, axes = plt.subplots(1, len(snrs), figsize=(2.3 * len(snrs), 2.6), sharey=True)
for ax, snr in zip(axes, snrs):
    p, t = signals.generate(signals.preset(f"snr_{snr}", length=LENGTH, empty_fraction=0.0), 1, seed=SEED)
    c = t["centre"][0]
    lo = int(max(0, c - 12)); hi = int(min(LENGTH, c + 13))
    ax.plot(np.arange(lo, hi), p[0, lo:hi], drawstyle="steps-mid", color="k")
    ax.axvline(c, color="tab:green", ls="--")
    ax.set_title(f"snr_{snr}")
    ax.set_xlabel("pixel")
axes[0].set_ylabel("value [DN]")
fig.suptitle("One profile per SNR preset (zoom on the line; dashed: true centre)")
fig.tight_layout()"""),
    ("md", """### Datasets on disk

`datasets.benchmark_splits` makes the training and validation sets (preset `mixed`) and one test set per
condition, each from its own seed derived from a base seed, so no split can overlap another. Each is an
`.npz` with a JSON manifest (generator parameters, seed, size, a hash of the generator's code, a content
hash); a second call reuses the files, a changed parameter or a corrupted file regenerates them."""),
    ("code", """import time
conditions = tuple(f"snr_{s}" for s in snrs)
sizes = {"train": N_VAL, "val": N_VAL, "test": N_TEST}  # the training split is not used in this notebook
t0 = time.perf_counter()
splits = datasets.benchmark_splits(SEED, sizes, OUT / "datasets", conditions=conditions, length=LENGTH)
t1 = time.perf_counter()
splits = datasets.benchmark_splits(SEED, sizes, OUT / "datasets", conditions=conditions, length=LENGTH)
t2 = time.perf_counter()
print(f"first call {t1 - t0:.2f} s (generated), second call {t2 - t1:.2f} s (reused)")
manifest = splits.val.manifest
print({k: manifest[k] for k in ("condition", "seed", "n", "generator", "sha256")})
print("test seeds:", {name: ds.manifest["seed"] for name, ds in splits.test.items()})"""),
    ("md", """## 3 · Classical detectors

Every method is a scorer `profiles -> (score, pos)`, vectorised over the batch; `score` is the evidence
for a line (the peak height above the profile's median, or the prominence) and a threshold on it decides
`found`. The same rule calibrates every method, the networks included: **the threshold gives 1 % false
alarms on the empty validation profiles**, and methods with a window (`cog`, `forest`,
`find_peaks_cwt`) pick it on validation data too (`classical.tune`)."""),
    ("code", """for name, m in classical.METHODS.items():
    print(f"{name:15s} windows={str(m.windows):22s} {m.description}")"""),
    ("code", """val = splits.val
method_names = [n for n in classical.METHODS if not (SMALL and n == "find_peaks_cwt")]  # cwt: ~1 ms/profile
detectors, choices = {}, {}
for name in method_names:
    detectors[name], choices[name] = classical.tune(name, val)
    print(f"{name:15s} window={str(choices[name]['window']):5s} threshold={choices[name]['threshold']:8.2f}")"""),
    ("code", """k = int(np.flatnonzero(clean)[0])
c = truth["centre"][k]
lo, hi = int(c - 6), int(c + 7)
fig, ax = plt.subplots(figsize=(9, 3.8))
ax.plot(np.arange(lo, hi), profiles[k, lo:hi], "o-", drawstyle="steps-mid", color="k", label="profile")
ax.axvline(c, color="tab:green", lw=2, label=f"true centre {c:.3f}")
colors = plt.cm.plasma(np.linspace(0, 0.9, len(detectors)))
for (name, det), color in zip(detectors.items(), colors):
    found, pos = det.detect(profiles[k:k + 1])
    if found[0]:
        ax.axvline(pos[0], color=color, ls="--", lw=1, label=f"{name}: {pos[0] - c:+.3f} px")
ax.set_xlabel("pixel"); ax.set_ylabel("value [DN]")
ax.set_title("Each classical estimate on one profile (legend: error in pixels)")
ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1))
fig.tight_layout()"""),
    ("md", """## 4 · Accuracy against SNR

`metrics.compute_metrics` splits each test set into empty profiles (false-alarm rate) and line profiles:
missed, gross errors (`|pos - centre| > 1 px`) and good estimates, over which the sub-pixel RMSE (with a
seeded 95 % bootstrap interval) and the bias are computed. The thresholds and windows were fixed on the
validation set above; the test sets here come from other seeds."""),
    ("code", """rows, curves = evaluation.evaluate(detectors.values(), splits.test, seed=SEED, draws=200 if SMALL else 1000,
                                   s_curve_conditions=("snr_64",))
print(f"{'method':15s}" + "".join(f"{c:>17s}" for c in conditions))
for name in detectors:
    cells = [r for r in rows if r["method"] == name]
    print(f"{name:15s}" + "".join(f"{r['rmse_px']:8.3f} ({r['gross_error_rate'] + r['miss_rate']:5.1%})" for r in cells))
print("RMSE of good estimates in px (miss + gross-error rate) per SNR condition; nan: no good estimate")
csv_path = evaluation.write_csv(rows, OUT / "accuracy.csv")"""),
    ("md", """The same figures as in the report (`workbench.plots`), from the rows above. Error bars are the 95 %
bootstrap intervals of the RMSE; a comparison is a win only where they do not overlap."""),
    ("code", """figures = [
    plots.plot_metric_vs_snr(rows, "rmse_px", OUT / "rmse_vs_snr.png", "sub-pixel RMSE (px)",
                             "RMSE of good estimates vs SNR (95 % bootstrap CI)", ci=("rmse_ci_low", "rmse_ci_high")),
    plots.plot_metric_vs_snr(rows, "gross_error_rate", OUT / "gross_vs_snr.png", "gross-error rate",
                             "Gross errors (|error| > 1 px) vs SNR", log_y=False),
    plots.plot_metric_vs_snr(rows, "miss_rate", OUT / "miss_vs_snr.png", "miss rate",
                             "Missed lines vs SNR (threshold at 1 % false alarms)", log_y=False),
]
for path in figures:
    display(Image(filename=str(path), width=720))"""),
    ("md", """## 5 · The S-curve

The bias of an estimator depends on where the true centre falls inside its pixel (the sub-pixel phase
`centre - round(centre)`). Plotted against the phase it draws an "S": a systematic error that averaging
cannot remove. An estimator pulled towards the centre of the brightest pixel has a bias of the opposite
sign to the phase (a falling S), one pushed away from it a rising S; a flat curve at 0 is the goal. The
3-point Gaussian estimator is exact only for noiseless point-sampled Gaussians; the generator integrates
the line over each pixel and adds background and noise. Small test sets give noisy curves: the default
mode uses more profiles."""),
    ("code", """shown = [c for c in curves if c["method"] != "argmax"]  # argmax's ramp (bias = -phase) would dwarf the others
path = plots.plot_s_curves(shown, OUT / "s_curves.png", f"S-curves at SNR 64 ({N_TEST} profiles)")
display(Image(filename=str(path), width=720))"""),
    ("md", """The networks of notebook 02 are calibrated by the very same rule (1 % false alarms on empty validation
profiles) and evaluated by the same metrics; `experiments/run_all.py` puts all of them into one table."""),
]

# --------------------------------------------------------------------------------------------------
# 02: training the quantized layers
# --------------------------------------------------------------------------------------------------
NB02 = [
    ("md", """# 02 · Training the quantization-aware layers: what the Requantizer learns

The networks are built from three Keras layers (`workbench.qlayers`) that compute on integer-valued
tensors, so the accumulator seen in training is the one the FPGA computes:

| layer | forward pass | learned |
|---|---|---|
| `QConv1D(filters, kernel_size, weight_bits)` | `acc = conv(x, q) + b`, `q = clip(round(w / s_w), -Q, Q)`, `Q = 2^(b-1) - 1` | shadow weights `w`, weight scale `s_w` (LSQ), bias |
| `QDense(units, weight_bits)` | the same with a 1-tap kernel: channel mixing per pixel | idem |
| `Requantizer(bits, signed=False)` | `y = clip(round(alpha * v), lo, hi)` | `alpha` per channel |

Rounding is straight-through (identity gradient) and always **half up**, as in the integer contract.
The Requantizer is at once the non-linearity (unsigned clipping at 0 is a ReLU, clipping at `2^bits - 1` a
saturation) and the rescaler to the next layer's bit width. No calibration data is used: `alpha` starts
from a fixed guess (`hi / init_range`) and is learned from the training loss. After training, the combined
scale of every channel is snapped to `multiplier / 2^shift`, frozen, briefly fine-tuned, and the model can
switch to an exact integer inference mode."""),
    ("code", setup_cell("02_training", """
LENGTH = 64 if SMALL else 128          # pixels per profile
N_TRAIN = 3000 if SMALL else 20000     # training profiles (preset "mixed")
N_VAL = 600 if SMALL else 4000         # validation profiles (other seed)
EPOCHS = 8 if SMALL else 30            # early stopping on the validation loss
BITS = "4/4"                           # weight / activation bits of every layer
SEED = 7
""")),
    ("code", """import numpy as np
import matplotlib.pyplot as plt
import keras

from workbench import (classical, contract, detection, export, golden, integer_mode, metrics, models, nn_detectors,
                       qlayers, signals, training)"""),
    ("md", """## 1 · The Requantizer on its own

Requantizers of 2, 3 and 4 bits on a ramp of inputs, at their initial `alpha = hi / init_range`
(`init_range = 1.5` here: the float value mapped onto the top code). Each is a staircase of `2^bits` levels. The values below 0
go to 0 (the ReLU), the values above `hi / alpha` saturate. During training the gradient reaches `alpha`
through the straight-through rounding of the unclipped values (clipped values pass none), scaled by
`1 / sqrt(hi)` as in LSQ, so `alpha` settles where the following layers make the best use of the few codes."""),
    ("code", """v = np.linspace(-0.5, 2.0, 501, dtype=np.float32)[None, :, None]
fig, ax = plt.subplots(figsize=(7, 3.5))
for bits in (2, 3, 4):
    layer = qlayers.Requantizer(bits, init_range=1.5)  # alpha = hi / init_range at initialisation
    y = keras.ops.convert_to_numpy(layer(v))[0, :, 0]
    alpha = float(np.exp(keras.ops.convert_to_numpy(layer.log_alpha))[0])
    ax.plot(v[0, :, 0], y, label=f"{bits} bits (alpha = {alpha:.2f})")
ax.set_xlabel("input v (accumulator in float units)"); ax.set_ylabel("output code y")
ax.set_title("Requantizer: clip(round(alpha * v), 0, 2^bits - 1), half-up rounding")
ax.legend(); ax.grid(alpha=0.3)
fig.tight_layout()"""),
    ("md", """## 2 · Data and targets

Training and validation profiles come from the `mixed` preset with different seeds. The network outputs
one score per pixel; it is trained (MSE) towards a target around the true centre. The default target
`max(0, 1 - (d / 2)^2)` is a parabola: the head's 3-point parabolic refinement recovers the centre
exactly from it, so the target itself leaves no S-curve. Empty profiles have an all-zero target.
The MSE alone hardly sees a sub-pixel shift of the score, so the loss adds a small term
(`position_weight`, on lines of SNR >= 8) that pins the head's parabolic vertex to the true centre
(`docs/training.md`, sections 4 and 9)."""),
    ("code", """train_config = training.TrainConfig(epochs=EPOCHS, finetune_epochs=2 if SMALL else 3, seed=SEED)
mixed = signals.preset("mixed", length=LENGTH)
train_profiles, train_truth = signals.generate(mixed, N_TRAIN, seed=SEED)
val_profiles, val_truth = signals.generate(mixed, N_VAL, seed=SEED + 1000)
train_data = training.training_data(train_profiles, train_truth, train_config)
val_data = training.training_data(val_profiles, val_truth, train_config)

k = int(np.flatnonzero(~val_truth["empty"] & (val_truth["snr"] > 8))[0])
fig, ax1 = plt.subplots(figsize=(9, 3))
ax1.plot(val_profiles[k], drawstyle="steps-mid", color="k", label="profile")
ax1.set_xlabel("pixel"); ax1.set_ylabel("value [DN]")
ax2 = ax1.twinx()
ax2.plot(val_data.targets[k, :, 0], "o-", color="tab:orange", ms=3, label="score target")
ax2.set_ylabel("target score", color="tab:orange")
ax1.axvline(val_truth["centre"][k], color="tab:green", ls="--", label="true centre")
ax1.set_title(f"Validation profile {k} and its training target (parabola, half-width 2 px)")
fig.legend(loc="upper right", fontsize=8)
fig.tight_layout()"""),
    ("md", """## 3 · A small network, quantization-aware and float

A fully convolutional network: two `QConv1D` + `Requantizer` stages, a `QDense` channel mix, and a
one-channel `QConv1D` whose accumulator is the score (no requantizer, so the score keeps its sub-pixel
resolution). The float twin has the same topology with `Conv1D`/`Dense` + ReLU; both get the same data
and training budget."""),
    ("code", """LS = models.LayerSpec
topology = (LS("conv", 6, 5), LS("conv", 6, 3), LS("dense", 6), LS("conv", 1, 3)) if SMALL else models.DEFAULT_TOPOLOGY
weight_bits, act_bits = models.parse_bits(BITS, len(topology))
spec = models.NetworkSpec(topology, weight_bits, act_bits)
print(f"topology {[(l.kind, l.channels, l.kernel_size) for l in spec.layers]}, bits {spec.bits_label}, "
      f"{spec.macs_per_pixel} MACs/pixel")
qat_model = models.build_qat_model(spec)
qat_model.summary(line_length=90)"""),
    ("code", """lines = []
trained_qat = training.train_qat(spec, train_data, val_data, train_config, OUT / "models", name="qat", progress=lines.append)
trained_float = training.train_float(spec, train_data, val_data, train_config, OUT / "models", name="float", progress=lines.append)
print("\\n".join(lines[-4:]))
print(f"QAT {trained_qat.log['seconds']:.1f} s, float {trained_float.log['seconds']:.1f} s; saved to {trained_qat.path.parent}")"""),
    ("code", """fig, ax = plt.subplots(figsize=(8, 3.5))
offset = 0
for label, log, style in (("QAT", trained_qat.log, "-"), ("float", trained_float.log, "--")):
    epochs = [row for phase in log["phases"].values() for row in phase["epochs"]]
    ax.plot(range(1, len(epochs) + 1), [r["val_loss"] for r in epochs], style, marker="o", ms=3,
            label=f"{label} validation")
    ax.plot(range(1, len(epochs) + 1), [r["loss"] for r in epochs], style, alpha=0.4, label=f"{label} training")
n_train = len(trained_qat.log["phases"]["train"]["epochs"])
ax.axvline(n_train + 0.5, color="gray", ls=":", label="QAT: scales snapped, fine-tune")
ax.set_xlabel("epoch"); ax.set_ylabel("loss (MSE + vertex term)"); ax.set_yscale("log")
ax.set_title(f"Training curves ({spec.bits_label} bits QAT vs float twin)")
ax.legend(fontsize=8)
fig.tight_layout()"""),
    ("md", """## 4 · What the Requantizer learned

Each Requantizer started at `alpha = hi / init_range` for every channel. After training, each channel has
its own `alpha`; multiplied by the preceding layer's accumulator scale (`input_scale * s_w`, with `s_w`
the learned weight scale) it becomes the one number hardware needs per channel, snapped to
`multiplier / 2^shift` with a 16-bit multiplier and one shift per layer. The snapping records are in the
training log."""),
    ("code", """qat = trained_qat.model
pairs = integer_mode.layer_pairs(qat)  # (conv/dense layer, requantizer that follows it)
snaps = {r["layer"]: r for r in trained_qat.log["snap"]}
fig, axes = plt.subplots(2, len(pairs), figsize=(4 * len(pairs), 5.5), squeeze=False)
for col, (conv, requant) in enumerate(pairs):
    alpha_init = requant.hi / requant.init_range
    alpha = np.exp(keras.ops.convert_to_numpy(requant.log_alpha)) * np.ones(conv.out_channels)
    s_w = np.exp(keras.ops.convert_to_numpy(conv.log_scale))
    combined = alpha * conv.input_scale * s_w
    snap = snaps[requant.name]
    snapped = np.array(snap["multiplier"]) / 2.0 ** snap["shift"]
    ch = np.arange(conv.out_channels)
    ax = axes[0, col]
    ax.bar(ch, alpha, color="tab:blue", label="learned alpha")
    ax.axhline(alpha_init, color="k", ls="--", label=f"initial alpha = {alpha_init:.1f}")
    ax.set_title(f"{requant.name} ({requant.bits} bits) after {conv.name}")
    ax.set_xlabel("channel"); ax.set_ylabel("alpha"); ax.legend(fontsize=8)
    ax = axes[1, col]
    ax.bar(ch - 0.2, combined, width=0.4, label="alpha * input_scale * s_w")
    ax.bar(ch + 0.2, snapped, width=0.4, label=f"multiplier / 2^{snap['shift']}")
    ax.set_xlabel("channel"); ax.set_ylabel("combined scale"); ax.set_yscale("log")
    ax.set_title(f"snapped, max rel. error {snap['max_relative_error']:.1e}", fontsize=10)
    ax.legend(fontsize=8)
fig.suptitle("Per-channel scales learned without calibration data")
fig.tight_layout()
for name, snap in snaps.items():
    print(f"{name}: shift {snap['shift']}, multipliers {snap['multiplier']}")"""),
    ("md", """### Activation histograms

The requantized activations are integer codes in `[0, 2^bits - 1]`. Their histograms on validation
profiles show how the learned scales use the few available levels: most pixels sit at 0 (background:
the ReLU part of the Requantizer), and the top code counts the saturated values. A channel stuck at 0
everywhere is dead; one mostly at the top code clips too much."""),
    ("code", """requantizers = [requant for _, requant in pairs]
probe = keras.Model(qat.inputs, [r.output for r in requantizers])
activations = probe.predict(val_data.inputs, verbose=0, batch_size=256)
activations = activations if isinstance(activations, list) else [activations]
fig, axes = plt.subplots(1, len(requantizers), figsize=(4.2 * len(requantizers), 3.6), squeeze=False,
                         layout="constrained")
for ax, requant, act in zip(axes[0], requantizers, activations):
    codes = np.arange(requant.lo, requant.hi + 1)
    channels = act.shape[-1]
    counts = np.stack([np.bincount(act[..., c].astype(int).ravel() - requant.lo, minlength=codes.size)
                       for c in range(channels)])
    freq = counts / counts.sum(axis=1, keepdims=True)
    image = ax.imshow(np.log10(freq.T + 1e-6), origin="lower", aspect="auto", cmap="magma", vmin=-6, vmax=0,
                      extent=(-0.5, channels - 0.5, requant.lo - 0.5, requant.hi + 0.5))
    ax.set_xlabel("channel"); ax.set_ylabel("code")
    ax.set_title(f"{requant.name}: zero {freq[:, 0].mean():.0%}, top code {freq[:, -1].mean():.1%}", fontsize=10)
fig.colorbar(image, ax=axes[0].tolist(), label="log10 share of pixels")
fig.suptitle("Activation histograms per layer and channel (validation profiles)");"""),
    ("md", """## 5 · Integer mode versus float

`train_qat` already snapped the scales and froze the integer weights. `integer_mode.set_integer_mode(model,
True)` switches every layer to the exact `qnn-int/1` arithmetic (float64 carrying exact integers, half-up
rounding); the score is then the integer accumulator of the last layer. In training mode the same model
returns that accumulator times its float scale, computed in float32. The two agree up to that scale,
except where float32 rounding flips a requantizer's decision at an exact tie."""),
    ("code", """last = integer_mode.quantized_layers(qat)[-1]
score_scale = float(last.input_scale * np.exp(keras.ops.convert_to_numpy(last.log_scale))[0])
float_mode = keras.ops.convert_to_numpy(qat(val_data.inputs, training=False))[:, :, 0]
integer_mode.set_integer_mode(qat, True)
int_scores = integer_mode.integer_scores(qat, val_profiles)
integer_mode.set_integer_mode(qat, False)
ratio = float_mode / score_scale
agree = np.isclose(ratio, int_scores, rtol=0, atol=1e-2)
print(f"integer scores: dtype {int_scores.dtype}, range [{int_scores.min()}, {int_scores.max()}]")
print(f"float-mode score / score scale equals the integer score on {agree.mean():.4%} of "
      f"{agree.size} pixels (largest difference {np.abs(ratio - int_scores).max():.3g})")

k = int(np.flatnonzero(~val_truth["empty"] & (val_truth["snr"] > 8))[0])
c = val_truth["centre"][k]
lo, hi = int(max(0, c - 8)), int(min(LENGTH, c + 9))
float_twin = keras.ops.convert_to_numpy(trained_float.model(val_data.inputs[k:k + 1], training=False))[0, :, 0]
pixels = np.arange(lo, hi)
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(pixels, val_data.targets[k, lo:hi, 0], ":", color="gray", lw=2, label="target")
ax.plot(pixels, float_twin[lo:hi], "s--", color="tab:green", ms=4, label="float twin")
ax.plot(pixels, int_scores[k, lo:hi] * score_scale, "o-", label="QAT integer mode: integer score x score scale")
ax.plot(pixels, float_mode[k, lo:hi], "x", ms=8, label="QAT training mode (float32)")
ax.axvline(c, color="k", ls="--", lw=1, label="true centre")
ax.set_xlabel("pixel"); ax.set_ylabel("score (float units)")
ax.set_title(f"Scores around the line of validation profile {k}")
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()"""),
    ("md", """## 6 · Accuracy: quantized versus float (and a classical reference)

The QAT network is exported to `qnn-int/1` and evaluated by the golden integer model through the
contract's peak head (first arg-max, 3-point parabolic refinement in integers); the float twin goes
through the same refinement in float. Every detector's threshold is set for 1 % false alarms on the
*empty validation* profiles (`detection.calibrate`), the same rule as for the classical detectors; the test
profiles come from other seeds. With the short training of the small mode the numbers only show the
mechanics; `experiments/run_all.py` trains to convergence and reports the real comparison."""),
    ("code", """empty_val = val_profiles[val_truth["empty"]]
document = export.export_document(qat, export.HeadConfig(threshold=0, refine="parabolic", frac_bits=6))
network = contract.load_network(document)
np.testing.assert_array_equal(golden.scores(network, val_profiles), int_scores)  # exported == Keras integer mode
candidates = {
    f"QAT {spec.bits_label} (golden)": detection.calibrate(nn_detectors.golden_detector("qat", network), empty_val, integer=True),
    "float twin": detection.calibrate(nn_detectors.float_detector("float", nn_detectors.model_scores(trained_float.model)), empty_val),
    "br8 (classical)": detection.calibrate(classical.make_detector("br8"), empty_val),
}
test_snrs = (4, 8, 16, 32)
results = {name: [] for name in candidates}
for snr in test_snrs:
    test_p, test_t = signals.generate(signals.preset(f"snr_{snr}", length=LENGTH), N_VAL, seed=SEED + 2000 + snr)
    for name, det in candidates.items():
        found, pos = det.detect(test_p)
        results[name].append(metrics.compute_metrics(found, pos, test_t["centre"], test_t["empty"], draws=200))
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name, rows in results.items():
    rmse = np.array([m.rmse_px for m in rows])
    err = np.array([[m.rmse_px - m.rmse_ci_low, m.rmse_ci_high - m.rmse_px] for m in rows]).T
    axes[0].errorbar(test_snrs, rmse, yerr=err, marker="o", capsize=3, label=name)
    axes[1].plot(test_snrs, [m.gross_error_rate + m.miss_rate for m in rows], marker="o", label=name)
for ax in axes:
    ax.set_xscale("log", base=2); ax.set_xticks(test_snrs, [str(s) for s in test_snrs])
    ax.set_xlabel("SNR"); ax.grid(alpha=0.3)
axes[0].set_ylabel("RMSE of good estimates [px] (95 % CI)"); axes[0].set_yscale("log")
axes[1].set_ylabel("miss + gross-error rate")
axes[0].legend(fontsize=8)
fig.suptitle(f"{N_VAL} test profiles per SNR, thresholds at 1 % false alarms on empty validation profiles")
fig.tight_layout()
for name, rows in results.items():
    print(f"{name:22s} false alarms on test: " + ", ".join(f"{m.false_alarm_rate:.1%}" for m in rows))"""),
    ("md", """Next: notebook 03 streams an exported network through the cycle-accurate MyHDL hardware and compares
every score with the golden model."""),
]


# --------------------------------------------------------------------------------------------------
# 03: export, golden model and cycle-by-cycle hardware simulation
# --------------------------------------------------------------------------------------------------
NB03 = [
    ("md", """# 03 · Export to `qnn-int/1`, the golden integer model, and cycle-by-cycle hardware

The `qnn-int/1` JSON document is the **one interface** between training and hardware:

```
Keras QAT model ──► export ──► qnn-int/1 JSON ──┬──► golden integer model (numpy)
                                                 └──► MyHDL streaming hardware ──► VHDL / Verilog
```

Every consumer re-validates the document (types, weight ranges, and the **recomputed** accumulator and
product ranges) before using it, and every register in hardware is sized from those ranges, so no stage can
wrap around. This notebook

1. obtains a document (exported from a briefly trained network),
2. reads it as an FPGA engineer would: layer by layer, with the widths each register needs,
3. evaluates it with the golden numpy model (every intermediate value an exact integer),
4. streams the same profiles through the MyHDL pipeline cycle by cycle, draws the pipeline like a
   waveform viewer would, and compares every score and every `(found, pos)` with the golden model."""),
    ("code", setup_cell("03_export", """
N_PROFILES = 16 if SMALL else 200      # profiles evaluated by the golden model and the hardware
LENGTH = 64 if SMALL else 128          # pixels per profile
LANES = 4                              # pixels per clock (P)
SEED = 3
""")),
    ("code", """import copy
import json
import numpy as np
import matplotlib.pyplot as plt

from workbench import contract, detection, export, golden, integer_mode, models, signals, training
from workbench.hw import harness as hw_harness, top as hw_top"""),
    ("md", """## 1 · From a trained Keras model to a `qnn-int/1` document

A small network is trained quantization-aware for a few epochs (notebook 02 looks at training in detail):
`training.train_qat` trains, snaps every Requantizer's scale to `multiplier / 2^shift`, fine-tunes with the
scales frozen and freezes the integer weights. `export.export_document` then writes exactly those integers,
plus the head. The head's detection threshold is set like every detector's: 1 % false alarms on the
*empty validation* profiles, computed on the integer scores."""),
    ("code", """LS = models.LayerSpec
spec = models.NetworkSpec((LS("conv", 4, 5), LS("dense", 4), LS("conv", 1, 3)), weight_bits=(4, 4, 4), act_bits=(3, 3))
train_config = training.TrainConfig(epochs=10 if SMALL else 20, finetune_epochs=1 if SMALL else 2, seed=SEED)
mixed = signals.preset("mixed", length=LENGTH)
train_p, train_t = signals.generate(mixed, 1500 if SMALL else 10000, seed=SEED)
val_p, val_t = signals.generate(mixed, 1000 if SMALL else 4000, seed=SEED + 1)
trained = training.train_qat(spec, training.training_data(train_p, train_t, train_config),
                             training.training_data(val_p, val_t, train_config), train_config,
                             OUT / "models", name="qat_small", progress=lambda line: None)
print(f"trained {spec.bits_label} network, {spec.macs_per_pixel} MACs/pixel, {trained.log['seconds']:.1f} s")

# Integer scores on the empty validation profiles fix the threshold (1 % false alarms).
draft = contract.load_network(export.export_document(trained.model, export.HeadConfig(threshold=0)))
empty_max = golden.scores(draft, val_p[val_t["empty"]]).max(axis=1)
threshold = int(detection.threshold_for_false_alarm(empty_max, integer=True))
document = export.export_document(trained.model, export.HeadConfig(threshold=threshold, refine="parabolic", frac_bits=6),
                                  metadata={"notebook": "03", "bits": spec.bits_label})
path = export.save_document(document, OUT / "qat_small.json")
network = contract.load_network(path)  # every reader validates, ranges included
print(f"{path.name}: {len(network.layers)} layers, head {network.head}")"""),
    ("md", """## 2 · Reading the document like a hardware designer

For every weight layer the contract stores the interval bounds of its accumulator (`acc_min`, `acc_max`),
for every requantizer those of `acc * multiplier + r` (`prod_min`, `prod_max`). The register width is the
smallest two's-complement width holding the bound (`contract.bit_width`)."""),
    ("code", """rows = []
for layer in network.layers:
    if isinstance(layer, contract.ConvLayer):
        lo, hi = int(layer.acc_min.min()), int(layer.acc_max.max())
        rows.append((layer.name, layer.kind, f"k={layer.kernel_size} {layer.in_channels}->{layer.out_channels}",
                     f"W{layer.weight_bits}", f"[{lo}, {hi}]", contract.bit_width(lo, hi)))
    else:
        lo, hi = int(layer.prod_min.min()), int(layer.prod_max.max())
        rows.append((layer.name, "requantizer", f"shift={layer.shift}",
                     f"A{layer.bits}{'s' if layer.signed else 'u'}", f"[{lo}, {hi}]", contract.bit_width(lo, hi)))
header = ("layer", "type", "shape", "bits", "range (acc or prod)", "width")
widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
for r in [header] + rows:
    print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))"""),
    ("md", """A reader never trusts stored ranges: change one weight and keep the old bounds, and the document is
rejected with a message naming the layer and the key."""),
    ("code", """tampered = copy.deepcopy(network.document)
first = tampered["layers"][0]
first["bias"][0] += 1  # ranges no longer match the weights
try:
    contract.load_network(tampered)
except Exception as exc:  # ContractError
    print(type(exc).__name__, ":", exc)"""),
    ("md", """## 3 · The golden integer model

`golden.run_golden` computes the network exactly (integer semantics of the contract, vectorised over the
batch) and the peak head: `p` = first arg-max of the score, `found = s[p] >= threshold`, and the
sub-pixel position `pos` in units of `2^-frac_bits` pixel. `golden.layer_outputs` returns every
intermediate activation."""),
    ("code", """config = signals.preset("mixed", length=LENGTH, bits=network.input_bits)
profiles, truth = signals.generate(config, N_PROFILES, seed=SEED)
result = golden.run_golden(network, profiles)
outputs = golden.layer_outputs(network, profiles)
scale = 2.0 ** -network.head.frac_bits
print("found:", int(result.found.sum()), "of", N_PROFILES, "| empty profiles:", int(truth["empty"].sum()))"""),
    ("code", """k = int(np.flatnonzero(~truth["empty"])[0])
fig, axes = plt.subplots(len(outputs) + 1, 1, figsize=(9, 1.6 * (len(outputs) + 1)), sharex=True)
axes[0].plot(profiles[k], drawstyle="steps-mid", color="k")
axes[0].set_ylabel("input [DN]")
axes[0].axvline(truth["centre"][k], color="g", ls="--", label="true centre")
for ax, layer, out in zip(axes[1:], network.layers, outputs):
    x = out[k]
    if x.shape[1] == 1:
        ax.plot(x[:, 0], drawstyle="steps-mid")
    else:
        ax.imshow(x.T, aspect="auto", interpolation="nearest", cmap="viridis",
                  extent=(-0.5, x.shape[0] - 0.5, x.shape[1] - 0.5, -0.5))
    ax.set_ylabel(f"{layer.name}\\n" + (f"channel\\n[{x.min()}..{x.max()}]" if x.shape[1] > 1 else "score"))
if result.found[k]:
    axes[-1].axvline(result.pos[k] * scale, color="r", ls=":", label="golden pos")
axes[-1].set_xlabel("pixel")
axes[0].legend(loc="upper right", fontsize=8)
fig.suptitle(f"Profile {k}: every integer activation of the network (golden model; colour = value)")
fig.tight_layout()"""),
    ("md", """The same document, read back into Keras (`integer_mode.model_from_document`), computes the same
integers: the Keras layers in integer mode and the numpy golden model implement one contract. Equality is
exact, not approximate; and a network with one weight changed by 1 gives different scores (a negative
control: the comparison is able to fail)."""),
    ("code", """keras_model = integer_mode.model_from_document(network.document)
keras_scores = integer_mode.integer_scores(keras_model, profiles)
np.testing.assert_array_equal(keras_scores, result.scores)
print(f"Keras integer mode == golden model on all {result.scores.size} scores")

mutated = copy.deepcopy(network.document)
score_layer = mutated["layers"][-1]  # one weight of the score layer changed by 1 (towards 0 if at the limit)
w = score_layer["weights"][len(score_layer["weights"]) // 2][0]
w[0] += -1 if w[0] > 0 else 1
mutated_scores = golden.scores(contract.load_network(contract.fill_ranges(mutated)), profiles)
print(f"negative control (one score-layer weight changed by 1): {int((mutated_scores != result.scores).sum())} "
      f"of {result.scores.size} scores differ")

good = result.found & ~truth["empty"]
error = result.pos[good] * scale - truth["centre"][good]
print(f"head on {N_PROFILES} profiles: found {int(result.found.sum())}, "
      f"median |error| of the found lines {np.median(np.abs(error)):.3f} px")"""),
    ("md", """## 4 · The streaming hardware, cycle by cycle

`hw.top.build_top(network, lanes, profile_length)` generates the MyHDL peak detector from the document
alone (it never calls the golden model): per layer a window shift register with zero padding at the
profile boundaries, constant-coefficient adder trees (shift-and-add, canonical signed digits), the
requantizers, and the head (running arg-max, neighbours, pipelined divider). Its ports are AXI4-Stream
style: `s_tdata` carries `P` pixels per beat, `s_tuser` marks the first beat of a profile, `s_tlast` the
last, `s_tvalid` may have gaps, and there is no back-pressure. Every register is sized from the contract's
ranges."""),
    ("code", """WAVE_LANES = 8
wave_design = hw_top.build_top(network, WAVE_LANES, LENGTH)
print(f"P = {wave_design.lanes} lanes, L = {wave_design.profile_length} px -> {wave_design.beats_per_profile} beats "
      f"per profile; score width {wave_design.score_bits} bits, pos width {wave_design.pos_bits} bits")
print(f"latency: scores {wave_design.latency} cycles after their input beat, result {wave_design.result_latency} "
      f"cycles after the profile's last beat")"""),
    ("md", """### A waveform of the pipeline

Three profiles go through the design with random gaps in `s_tvalid` (probability 0.2 per beat), with a
VCD trace. The small reader below samples the trace at every rising clock edge and draws the ports and the
`valid` flag of every internal stage, like a waveform viewer: each beat's valid travels down the
pipeline, the gaps travel with it, the scores leave `latency` cycles after their pixels, and one result
pulse per profile follows its last beat. (The `.vcd` file opens in GTKWave as well.)"""),
    ("code", """import re

def read_vcd(path):
    \"\"\"{hierarchical name: (times, values)} of every variable in a VCD file (values as Python ints).\"\"\"
    names, changes, scope, time = {}, {}, [], 0
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "$scope":
                scope.append(parts[2])
            elif parts[0] == "$upscope":
                scope.pop()
            elif parts[0] == "$var":
                names.setdefault(parts[3], []).append(".".join(scope[1:] + [parts[4]]))
            elif parts[0].startswith("#"):
                time = int(parts[0][1:])
            elif parts[0][0] in "01xz" and len(parts) == 1:
                changes.setdefault(parts[0][1:], []).append((time, int(parts[0][0]) if parts[0][0] in "01" else 0))
            elif parts[0][0] == "b":
                bits = parts[0][1:].replace("x", "0").replace("z", "0")
                changes.setdefault(parts[1], []).append((time, int(bits, 2)))
    return {name: tuple(map(np.array, zip(*changes.get(code, [(0, 0)])))) for code, ns in names.items() for name in ns}

def sample(trace, times):
    \"\"\"Values of one trace at the given times (the last change at or before each).\"\"\"
    t, v = trace
    return v[np.clip(np.searchsorted(t, times, side="right") - 1, 0, None)]

wave_profiles = profiles[np.flatnonzero(result.found)[:3]] if result.found.sum() >= 3 else profiles[:3]
vcd_path = OUT / "waveform.vcd"
wave_run = hw_harness.run_design(wave_design, wave_profiles, gap_probability=0.2, seed=1, vcd=vcd_path)
traces = read_vcd(vcd_path)
top_name = next(name for name in traces if name.endswith("s_tvalid")).rsplit(".", 1)[0]
clk_t, clk_v = next(trace for name, trace in traces.items() if name.endswith("clk"))
falling = clk_t[1:][(clk_v[1:] == 0) & (clk_v[:-1] == 1)]
# The harness sets a cycle's inputs just after a falling edge and clocks 5 ns later; sampling 1 ns before
# that rising edge shows what the registers take in, and the outputs exactly as the harness records them.
at = falling[hw_harness.RESET_CYCLES - 1:] + 4
port = lambda name: sample(traces[f"{top_name}.{name}"], at)
stage_valids = [name for name in traces if name.endswith("dout_valid") and name.startswith(top_name + ".")]
print(f"{len(traces)} traced signals, {len(at)} cycles, {len(stage_valids)} internal valid flags")"""),
    ("code", """def unpack(words, lanes, width, signed):
    mask = (1 << width) - 1
    lanes_values = np.array([[(int(w) >> (j * width)) & mask for j in range(lanes)] for w in words])
    return np.where(signed & (lanes_values >= 1 << (width - 1)), lanes_values - (1 << width), lanes_values)

cycles = np.arange(len(at))
rows = [("s_tvalid", port("s_tvalid")), ("s_tuser", port("s_tuser")), ("s_tlast", port("s_tlast"))]
def stage_label(name):
    block, part = name[len(top_name) + 1:].split(".")[:2]
    return f"{block} / {re.sub(r'[0-9_]+$', '', part)} valid"

rows += [(stage_label(name), sample(traces[name], at)) for name in stage_valids]
rows += [("m_score_tvalid", port("m_score_tvalid")), ("m_score_tuser", port("m_score_tuser")),
         ("m_score_tlast", port("m_score_tlast")), ("m_result_tvalid", port("m_result_tvalid"))]
lanes_in = unpack(port("s_tdata"), WAVE_LANES, wave_design.in_bits, False)
lanes_out = unpack(port("m_score_tdata"), WAVE_LANES, wave_design.score_bits, True)

heights = [0.35] * len(rows) + [2.0, 2.0]
fig, axes = plt.subplots(len(heights), 1, figsize=(13, 0.33 * len(rows) + 6), sharex=True,
                         gridspec_kw={"height_ratios": heights})
qualifier = {"s_tuser": port("s_tvalid"), "s_tlast": port("s_tvalid"),
             "m_score_tuser": port("m_score_tvalid"), "m_score_tlast": port("m_score_tvalid")}
for ax, (name, values) in zip(axes, rows):
    if name in qualifier:  # light: the raw wire (junk while its valid is low); dark: the qualified flag
        ax.fill_between(cycles, 0, values, step="post", color="tab:blue", alpha=0.15)
        values = values & qualifier[name]
    ax.fill_between(cycles, 0, values, step="post", color="tab:blue" if name.startswith(("s_", "m_")) else "tab:gray",
                    alpha=0.8)
    ax.set_yticks([]); ax.set_ylim(-0.1, 1.2)
    ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=7)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
image_in = np.where(port("s_tvalid")[:, None] == 1, lanes_in, np.nan).T
image_out = np.where(port("m_score_tvalid")[:, None] == 1, lanes_out, np.nan).T
axes[-2].imshow(image_in, aspect="auto", interpolation="nearest", cmap="Greys", extent=(-0.5, len(at) - 0.5, WAVE_LANES - 0.5, -0.5))
axes[-2].set_ylabel("s_tdata\\nlane", fontsize=8)
axes[-1].imshow(image_out, aspect="auto", interpolation="nearest", cmap="viridis", extent=(-0.5, len(at) - 0.5, WAVE_LANES - 0.5, -0.5))
axes[-1].set_ylabel("m_score_tdata\\nlane", fontsize=8)
result_valid = port("m_result_tvalid") == 1
for cycle, found, pos in zip(cycles[result_valid], port("m_found")[result_valid], port("m_pos")[result_valid]):
    axes[len(rows) - 1].annotate(f"found={int(found)} pos={pos * scale:.2f} px", (cycle, 1.0), fontsize=8,
                                 xytext=(4, 0), textcoords="offset points", va="bottom")
axes[-1].set_xlabel("clock cycle (after reset)")
axes[-1].set_xlim(-0.5, len(at) + 0.5)
fig.suptitle(f"Pipeline of the peak detector, P = {WAVE_LANES}, 3 profiles of {LENGTH} px with gaps in s_tvalid\\n"
             "(grey: valid flag of every internal stage; pale blue: tuser/tlast wires while their valid is low)")
fig.tight_layout()"""),
    ("md", """### Exact comparison with the golden model

`hw.harness.run_design` drives profiles through the design cycle by cycle and collects the score stream
and the results; `hw.harness.compare` checks every score and every `(found, pos)` against the golden
model. Back to back (`s_tvalid` held high) the design must take one beat per clock, so a profile costs
exactly `L / P` cycles and every latency is the same; with random gaps the values must still match.
(With gaps a beat's scores can leave a few cycles later: a convolution window needs the pixels to the
right of a beat, which arrive with the next beat. The values never change.) The negative control runs
the design generated from the document with one weight changed by 1."""),
    ("code", """design = hw_top.build_top(network, LANES, LENGTH)
back_to_back = hw_harness.run_design(design, profiles)
with_gaps = hw_harness.run_design(design, profiles, gap_probability=0.3, seed=2)
for label, run in (("back to back", back_to_back), ("random gaps", with_gaps)):
    check = hw_harness.compare(design, profiles, run)
    score_lat, result_lat = hw_harness.latencies(run, design.beats_per_profile)
    print(f"{label:12s}: {check.scores_compared} scores and {check.results_compared} results compared, "
          f"{check.mismatches} mismatches; latency scores {sorted(set(score_lat))}, results {sorted(set(result_lat))}; "
          f"{run.cycles} cycles, {run.cycles_per_second:,.0f} simulated cycles/s")
    assert check.mismatches == 0 and check.compared == profiles.size + len(profiles)
starts = np.array(back_to_back.in_cycles[::design.beats_per_profile])
print(f"cycles between profile starts (back to back): {sorted(set(np.diff(starts).tolist()))} "
      f"(L / P = {LENGTH // LANES})")

mutated_network = contract.load_network(contract.fill_ranges(mutated))
mutated_run = hw_harness.run_design(hw_top.build_top(mutated_network, LANES, LENGTH), profiles)
control = hw_harness.compare(design, profiles, mutated_run)  # checked against the ORIGINAL golden model
print(f"negative control: {control.mismatches} mismatches of {control.compared} values ({control.first_mismatch})")
assert control.mismatches > 0"""),
    ("code", """k = int(np.flatnonzero(back_to_back.found)[0]) if back_to_back.found.any() else 0
fig, ax = plt.subplots(figsize=(9, 3.2))
ax.plot(result.scores[k], "o", ms=6, mfc="none", label="golden model")
ax.plot(back_to_back.scores[k], ".", color="tab:red", label=f"MyHDL simulation (P = {LANES})")
if back_to_back.found[k]:
    ax.axvline(back_to_back.pos[k] * scale, color="tab:red", ls=":", label=f"hardware pos = {back_to_back.pos[k] * scale:.3f} px")
if not truth["empty"][k]:
    ax.axvline(truth["centre"][k], color="tab:green", ls="--", label=f"true centre {truth['centre'][k]:.3f} px")
ax.set_xlabel("pixel"); ax.set_ylabel("integer score")
ax.set_title(f"Profile {k}: hardware scores and result, identical to the golden model")
ax.legend(fontsize=8)
fig.tight_layout()"""),
]


# --------------------------------------------------------------------------------------------------
# 04: HDL generation, verification and resources
# --------------------------------------------------------------------------------------------------
NB04 = [
    ("md", """# 04 · VHDL and Verilog: generation, proof of bit-exactness, resource estimates

The MyHDL peak detector of notebook 03 is converted to **VHDL-2008** (for Vivado) and **Verilog** (for
Icarus, Verilator and Yosys). Conversion is never trusted on its own: MyHDL simulates with unbounded
integers, converted HDL computes at operand width, and some constructs convert silently wrong (mixed
signed/unsigned sums, constants wider than the signal they multiply, ROM reads in conditional
expressions). So every HDL folder carries self-checking testbenches with vector files from the golden
model, and the workbench runs them:

```
qnn-int/1 ──► hw.top.build_top ──► MyHDL ──► VHDL-2008 ──► GHDL testbench      ─┐
                                        └──► Verilog   ──► Icarus testbench    ─┼─► VERDICT PASS compared=N mismatches=0
                                                       ──► Icarus lockstep co-simulation with MyHDL
                                                       ──► Verilator lint, Yosys synth_xilinx
golden model ──► vector files (stimulus, expected scores and results) ──────────┘
```

This notebook writes the HDL folder a Vivado user receives, runs GHDL and Icarus on it, shows that a
wrong network makes the testbench fail, and estimates resources and throughput with Yosys.
Everything here is **pre-route**: clock figures are "estimated to reach", and there is no power estimate."""),
    ("code", setup_cell("04_hdl", """
LENGTH = 64                               # pixels per profile (a multiple of every lane count below)
VERIFY_LANES = (1, 4) if SMALL else (1, 4, 8)  # HDL folders written and verified in GHDL and Icarus
N_VECTORS = 12 if SMALL else 200          # profiles in the vector files (generator + edge cases)
YOSYS_LANES = (1,) if SMALL else (1, 4)   # full Yosys runs (minutes for wide designs)
SCALED_LANES = (4, 16, 32) if SMALL else (16, 32)  # rows extrapolated from the Yosys runs
SEED = 11
""")),
    ("code", """import json
import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from workbench import contract, detection, export, golden, models, signals, training
from workbench.hdl import cosim, estimates, figure, hardware, network as hdl_network, package as hdl_package
from workbench.hdl import simulators, vectors, verify"""),
    ("md", """## 1 · A trained network

A small network trained for a few epochs and exported to `qnn-int/1` (see notebooks 02 and 03); the
small mode uses an even smaller one so that Yosys finishes quickly. Any valid document works here."""),
    ("code", """LS = models.LayerSpec
if SMALL:
    spec = models.NetworkSpec((LS("conv", 3, 3), LS("conv", 1, 3)), weight_bits=(3, 3), act_bits=(3,))
else:
    spec = models.NetworkSpec((LS("conv", 4, 5), LS("dense", 4), LS("conv", 1, 3)), weight_bits=(4, 4, 4), act_bits=(3, 3))
config = training.TrainConfig(epochs=6 if SMALL else 20, finetune_epochs=1, seed=SEED)
mixed = signals.preset("mixed", length=LENGTH)
train_p, train_t = signals.generate(mixed, 1500 if SMALL else 10000, seed=SEED)
val_p, val_t = signals.generate(mixed, 800 if SMALL else 4000, seed=SEED + 1)
trained = training.train_qat(spec, training.training_data(train_p, train_t, config),
                             training.training_data(val_p, val_t, config), config, OUT / "models",
                             name="qat_hdl", progress=lambda line: None)
draft = contract.load_network(export.export_document(trained.model, export.HeadConfig(threshold=0)))
threshold = int(detection.threshold_for_false_alarm(golden.scores(draft, val_p[val_t["empty"]]).max(axis=1), integer=True))
document = export.export_document(trained.model, export.HeadConfig(threshold=threshold, frac_bits=6))
network = contract.load_network(export.save_document(document, OUT / "qat_hdl.json"))
print(f"{spec.bits_label} network, {network.macs_per_pixel} MACs/pixel, score range {network.score_range}, "
      f"threshold {threshold}")"""),
    ("md", """## 2 · The HDL folder

`hdl.network.network_design` wraps the generated top-level (`hw.top.build_top`) for the HDL flow, and
`hdl.package.write_package` converts it and writes everything a Vivado user needs. The vector files hold
generator profiles plus edge cases (all zeros, full scale, peaks at the first and last pixel) with the
golden model's expected scores and results. The same folder comes out of
`workbench hdl --model m.json --lanes 4 --out DIR --verify`."""),
    ("code", """rng = np.random.default_rng(SEED)
test_p, test_t = signals.generate(mixed, N_VECTORS // 2, seed=SEED + 2)
profiles = np.concatenate([test_p, vectors.stress_profiles(rng, N_VECTORS - len(test_p), LENGTH, network.input_bits)])
expected = vectors.golden_vectors(network, profiles)
packages = {}
for lanes in VERIFY_LANES:
    design = hdl_network.network_design(network, lanes, LENGTH)
    packages[lanes] = hdl_package.write_package(design, OUT / f"hdl_p{lanes}", expected, document=network.document)
root = packages[VERIFY_LANES[-1]].root
for path in sorted(p for p in root.rglob("*") if p.is_file()):
    print(f"{str(path.relative_to(root)):32s} {path.stat().st_size:>9,d} bytes")"""),
    ("code", """design_info = packages[VERIFY_LANES[-1]].design
print(f"top {design_info['top']}: P = {design_info['lanes']}, L = {design_info['profile_length']}, "
      f"latency {design_info['latency']} cycles, {design_info['values']} values in the vectors")
print(f"{'port':16s} {'dir':4s} {'bits':>5s}")
for p in design_info["ports"]:
    print(f"{p['name']:16s} {p['direction']:4s} {p['width']:>5d}")
vhdl = (root / "vhdl" / f"{design_info['top']}.vhd").read_text().splitlines()
start = next(i for i, line in enumerate(vhdl) if line.lower().startswith("entity"))
print("\\n".join(vhdl[start:start + 18]))"""),
    ("md", """## 3 · GHDL and Icarus verdicts

Each testbench reads the stimulus (once back to back, once with idle cycles in `s_tvalid`), compares
every score beat and every result with the expected values, and prints one line
`VERDICT PASS|FAIL compared=N mismatches=M`. GHDL's exit code is not trusted (a converted VHDL testbench
ends with a failure assertion even when it passed): `verify.verify_package` judges by the verdict line
and also requires `compared` to equal the number of values written, so a testbench that compares nothing
cannot pass."""),
    ("code", """rows = []
for lanes, package in packages.items():
    for verdict, stimulus in zip(verify.verify_package(package, timeout_s=300), ("back to back", "with gaps") * 2):
        rows.append((lanes, verdict.simulator, stimulus, verdict.compared, verdict.mismatches,
                     verdict.seconds, verdict.clocks_per_second))
print(f"{'P':>2s} {'simulator':9s} {'stimulus':12s} {'compared':>9s} {'mismatches':>10s} {'seconds':>8s} {'clocks/s':>10s}")
for lanes, sim, stim, compared, bad, seconds, speed in rows:
    print(f"{lanes:>2d} {sim:9s} {stim:12s} {compared:>9d} {bad:>10d} {seconds:>8.2f} {speed:>10,.0f}")
assert all(bad == 0 for *_, bad, _, _ in rows)
lint = simulators.verilator_lint(packages[VERIFY_LANES[0]].file("verilog"), design_info["top"])
print(f"verilator --lint-only: clean (waived: {', '.join(simulators.VERILATOR_WAIVERS)})", lint.strip()[:200])"""),
    ("md", """**Negative control.** The same testbench, given the hardware of a network whose score layer has one
weight changed by 1, must fail: otherwise the comparison proves nothing."""),
    ("code", """import copy
mutated = copy.deepcopy(network.document)
w = mutated["layers"][-1]["weights"][len(mutated["layers"][-1]["weights"]) // 2][0]
w[0] += -1 if w[0] > 0 else 1
wrong_design = hdl_network.network_design(contract.load_network(contract.fill_ranges(mutated)), 1, LENGTH)
wrong = hdl_package.write_package(wrong_design, OUT / "hdl_wrong", expected)  # expected values of the RIGHT network
verdict = verify.run_testbench(wrong, "icarus", timeout_s=300)
print(f"icarus on the wrong hardware: passed={verdict.passed}, compared={verdict.compared}, "
      f"mismatches={verdict.mismatches}")
assert not verdict.passed and verdict.mismatches > 0"""),
    ("md", """## 4 · Lockstep co-simulation

The Verilog runs in Icarus *inside* the MyHDL simulation (MyHDL's `Cosimulation` through its VPI module):
both receive the same inputs each clock, with gaps in `s_tvalid`, and every output port is compared
every cycle, not only at valid beats."""),
    ("code", """co_design = hdl_network.network_design(network, VERIFY_LANES[-1], LENGTH)
co = cosim.cosimulate(co_design, profiles[: 4 if SMALL else 40], timeout_s=300)
print(f"{co.cycles} cycles, {co.compared} port values compared, {co.mismatches} mismatches, "
      f"{co.cycles_per_second:,.0f} cycles/s")
assert co.mismatches == 0"""),
    ("md", """## 5 · Resources and throughput (Yosys, pre-route)

`hdl.hardware.hardware_rows` converts the design at each lane count, runs Yosys `synth_xilinx -family
xc7` with and without DSP inference (constant products are shift-and-add, so small weights need no
DSP48), and estimates a clock from Yosys's cell delays times a stated routing factor, capped at the part's
fabric limit. Wider designs are extrapolated from the Yosys runs (`yosys-scaled`); the analytic model's
LUT/FF numbers from the network alone sit alongside as a sanity check. Throughput = P x clock; the paper's
design point is 4 Gpixel/s."""),
    ("code", """make_design = lambda lanes: hdl_network.network_design(network, lanes, LENGTH)
hw_rows = hardware.hardware_rows("qat_hdl", network, make_design, yosys_lanes=YOSYS_LANES, scaled_lanes=SCALED_LANES,
                                 timeout_s=600, cache_dir=OUT / "yosys_cache")
columns = ("lanes", "method", "luts", "ffs", "carry4", "dsps", "dsps_nodsp", "luts_analytic", "f_est_mhz",
           "gpix_per_s_est", "ops_per_pixel", "tops_est", "estimated_to_reach_4gpix")
table = "| " + " | ".join(columns) + " |\\n|" + "---|" * len(columns) + "\\n"
table += "\\n".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in hw_rows)
display(Markdown(table))
f_est = max((r for r in hw_rows if r["method"] == "yosys"), key=lambda r: r["lanes"])["f_est_mhz"]
if len(YOSYS_LANES) == 1:
    print("(one Yosys run only: the scaled rows are simply proportional to P, which over-counts the shared head)")
print(f"pre-route clock estimate {f_est} MHz: estimated to reach {estimates.PAPER_GPIX_PER_S:g} Gpixel/s "
      f"with P = {estimates.lanes_for_target(f_est)} lanes (an estimate, not a timing-closed result)")"""),
    ("code", """figure.plot_hardware(hw_rows, OUT / "hardware_lanes.png")
%matplotlib inline
display(Image(filename=str(OUT / "hardware_lanes.png"), width=760))"""),
    ("md", """## 6 · Into Vivado

Each HDL folder has a `README.md` and `vivado/create_project.tcl`, which creates a project for a chosen
part (default a mid-range Kintex-7), adds the sources as VHDL-2008 and the testbench with its vectors,
constrains the clock, runs synthesis and implementation and writes utilization, timing and power reports:

```
vivado -mode batch -source vivado/create_project.tcl -tclargs xc7k160tffg676-2 250
```

Vivado's own reports then replace the estimates above (post-route timing, power and so TOPS/W)."""),
    ("code", """tcl = packages[VERIFY_LANES[-1]].file("vivado").read_text().splitlines()
print("\\n".join(tcl[:12]))"""),
]


NOTEBOOKS = {
    "01_signals_and_classical_detectors.ipynb": NB01,
    "02_training_quantized_layers.ipynb": NB02,
    "03_export_golden_and_hardware_simulation.ipynb": NB03,
    "04_hdl_verification_and_resources.ipynb": NB04,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A cleared notebook with stable cell ids."""
    nb = new_notebook(metadata=METADATA)
    stem = name.split("_")[0]
    for index, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell["id"] = f"nb{stem}-{index:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main(argv: list[str]) -> None:
    for name, cells in NOTEBOOKS.items():
        if argv and not any(name.startswith(a) for a in argv):
            continue
        nbformat.write(build(name, cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main(sys.argv[1:])

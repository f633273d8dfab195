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
# # 02 · Training the quantization-aware layers: what the Requantizer learns
#
# The networks are built from three Keras layers (`workbench.nn.qlayers`) that compute on integer-valued
# tensors, so the accumulator seen in training is the one the FPGA computes:
#
# | layer | forward pass | learned |
# |---|---|---|
# | `QConv1D(filters, kernel_size, weight_bits)` | `acc = conv(x, q) + b`, `q = clip(round(w / s_w), -Q, Q)`, `Q = 2^(b-1) - 1` | shadow weights `w`, weight scale `s_w` (LSQ), bias |
# | `QDense(units, weight_bits)` | the same with a 1-tap kernel: channel mixing per pixel | idem |
# | `Requantizer(bits, signed=False)` | `y = clip(round(alpha * v), lo, hi)` | `alpha` per channel |
#
# Rounding is straight-through (identity gradient) and always **half up**, as in the integer contract.
# The Requantizer is at once the non-linearity (unsigned clipping at 0 is a ReLU, clipping at `2^bits - 1` a
# saturation) and the rescaler to the next layer's bit width. No calibration data is used: `alpha` starts
# from a fixed guess (`hi / init_range`) and is learned from the training loss. After training, the combined
# scale of every channel is snapped to `multiplier / 2^shift`, frozen, briefly fine-tuned, and the model can
# switch to an exact integer inference mode.

# %%
# Parameters. The test suite sets WORKBENCH_SMALL=1 and gets a quick run; the default is larger.
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

SMALL = os.environ.get("WORKBENCH_SMALL", "0") == "1"
# Files this notebook writes go here (outside the repository when run by the test suite).
OUT = Path(os.environ.get("WORKBENCH_NOTEBOOK_OUT", "notebook_output")) / "02_training"
OUT.mkdir(parents=True, exist_ok=True)
LENGTH = 64 if SMALL else 128          # pixels per profile
N_TRAIN = 3000 if SMALL else 20000     # training profiles (preset "mixed")
N_VAL = 600 if SMALL else 4000         # validation profiles (other seed)
EPOCHS = 8 if SMALL else 30            # early stopping on the validation loss
BITS = "4/4"                           # weight / activation bits of every layer
SEED = 7
print("small mode" if SMALL else "default mode", "| output folder:", OUT.resolve())

# %%
import numpy as np
import matplotlib.pyplot as plt
import keras

from workbench.data import signals
from workbench.detectors import classical, interface
from workbench.evaluation import metrics
from workbench.nn import detectors as nn_detectors, export, integer_mode, models, qlayers, training
from workbench.qnn import contract, detector as qnn_detector, golden

# %% [markdown]
# ## 1 · The Requantizer on its own
#
# Requantizers of 2, 3 and 4 bits on a ramp of inputs, at their initial `alpha = hi / init_range`
# (`init_range = 1.5` here: the float value mapped onto the top code). Each is a staircase of `2^bits` levels. The values below 0
# go to 0 (the ReLU), the values above `hi / alpha` saturate. During training the gradient reaches `alpha`
# through the straight-through rounding of the unclipped values (clipped values pass none), scaled by
# `1 / sqrt(hi)` as in LSQ, so `alpha` settles where the following layers make the best use of the few codes.

# %%
v = np.linspace(-0.5, 2.0, 501, dtype=np.float32)[None, :, None]
fig, ax = plt.subplots(figsize=(7, 3.5))
for bits in (2, 3, 4):
    layer = qlayers.Requantizer(bits, init_range=1.5)  # alpha = hi / init_range at initialisation
    y = keras.ops.convert_to_numpy(layer(v))[0, :, 0]
    alpha = float(np.exp(keras.ops.convert_to_numpy(layer.log_alpha))[0])
    ax.plot(v[0, :, 0], y, label=f"{bits} bits (alpha = {alpha:.2f})")
ax.set_xlabel("input v (accumulator in float units)"); ax.set_ylabel("output code y")
ax.set_title("Requantizer: clip(round(alpha * v), 0, 2^bits - 1), half-up rounding")
ax.legend(); ax.grid(alpha=0.3)
fig.tight_layout()

# %% [markdown]
# ## 2 · Data and targets
#
# Training and validation profiles come from the `mixed` preset with different seeds. The network outputs
# one score per pixel; it is trained (MSE) towards a target around the true centre. The default target
# `max(0, 1 - (d / 2)^2)` is a parabola: the head's 3-point parabolic refinement recovers the centre
# exactly from it, so the target itself leaves no S-curve. Empty profiles have an all-zero target.
# The MSE alone hardly sees a sub-pixel shift of the score, so the loss adds a small term
# (`position_weight`, on lines of SNR >= 8) that pins the head's parabolic vertex to the true centre
# (`docs/training.md`, sections 4 and 9).

# %%
train_config = training.TrainConfig(epochs=EPOCHS, finetune_epochs=2 if SMALL else 3, seed=SEED)
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
fig.tight_layout()

# %% [markdown]
# ## 3 · A small network, quantization-aware and float
#
# A fully convolutional network: two `QConv1D` + `Requantizer` stages, a `QDense` channel mix, and a
# one-channel `QConv1D` whose accumulator is the score (no requantizer, so the score keeps its sub-pixel
# resolution). The float twin has the same topology with `Conv1D`/`Dense` + ReLU; both get the same data
# and training budget.

# %%
LS = models.LayerSpec
topology = (LS("conv", 6, 5), LS("conv", 6, 3), LS("dense", 6), LS("conv", 1, 3)) if SMALL else models.DEFAULT_TOPOLOGY
weight_bits, act_bits = models.parse_bits(BITS, len(topology))
spec = models.NetworkSpec(topology, weight_bits, act_bits)
print(f"topology {[(l.kind, l.channels, l.kernel_size) for l in spec.layers]}, bits {spec.bits_label}, "
      f"{spec.macs_per_pixel} MACs/pixel")
qat_model = models.build_qat_model(spec)
qat_model.summary(line_length=90)

# %%
lines = []
trained_qat = training.train_qat(spec, train_data, val_data, train_config, OUT / "models", name="qat", progress=lines.append)
trained_float = training.train_float(spec, train_data, val_data, train_config, OUT / "models", name="float", progress=lines.append)
print("\n".join(lines[-4:]))
print(f"QAT {trained_qat.log['seconds']:.1f} s, float {trained_float.log['seconds']:.1f} s; saved to {trained_qat.path.parent}")

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
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
fig.tight_layout()

# %% [markdown]
# ## 4 · What the Requantizer learned
#
# Each Requantizer started at `alpha = hi / init_range` for every channel. After training, each channel has
# its own `alpha`; multiplied by the preceding layer's accumulator scale (`input_scale * s_w`, with `s_w`
# the learned weight scale) it becomes the one number hardware needs per channel, snapped to
# `multiplier / 2^shift` with a 16-bit multiplier and one shift per layer. The snapping records are in the
# training log.

# %%
qat = trained_qat.model
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
    print(f"{name}: shift {snap['shift']}, multipliers {snap['multiplier']}")

# %% [markdown]
# ### Activation histograms
#
# The requantized activations are integer codes in `[0, 2^bits - 1]`. Their histograms on validation
# profiles show how the learned scales use the few available levels: most pixels sit at 0 (background:
# the ReLU part of the Requantizer), and the top code counts the saturated values. A channel stuck at 0
# everywhere is dead; one mostly at the top code clips too much.

# %%
requantizers = [requant for _, requant in pairs]
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
fig.suptitle("Activation histograms per layer and channel (validation profiles)");

# %% [markdown]
# ## 5 · Integer mode versus float
#
# `train_qat` already snapped the scales and froze the integer weights. `integer_mode.set_integer_mode(model,
# True)` switches every layer to the exact `qnn-int/1` arithmetic (float64 carrying exact integers, half-up
# rounding); the score is then the integer accumulator of the last layer. In training mode the same model
# returns that accumulator times its float scale, computed in float32. The two agree up to that scale,
# except where float32 rounding flips a requantizer's decision at an exact tie.

# %%
last = integer_mode.quantized_layers(qat)[-1]
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
fig.tight_layout()

# %% [markdown]
# ## 6 · Accuracy: quantized versus float (and a classical reference)
#
# The QAT network is exported to `qnn-int/1` and evaluated by the golden integer model through the
# contract's peak head (first arg-max, 3-point parabolic refinement in integers); the float twin goes
# through the same refinement in float. Every detector's threshold is set for 1 % false alarms on the
# *empty validation* profiles (`interface.calibrate`), the same rule as for the classical detectors; the test
# profiles come from other seeds. With the short training of the small mode the numbers only show the
# mechanics; `experiments/run_all.py` trains to convergence and reports the real comparison.

# %%
empty_val = val_profiles[val_truth["empty"]]
document = export.export_document(qat, export.HeadConfig(threshold=0, refine="parabolic", frac_bits=6))
network = contract.load_network(document)
np.testing.assert_array_equal(golden.scores(network, val_profiles), int_scores)  # exported == Keras integer mode
candidates = {
    f"QAT {spec.bits_label} (golden)": interface.calibrate(qnn_detector.golden_detector("qat", network), empty_val, integer=True),
    "float twin": interface.calibrate(nn_detectors.float_detector("float", nn_detectors.model_scores(trained_float.model)), empty_val),
    "br8 (classical)": interface.calibrate(classical.make_detector("br8"), empty_val),
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
    print(f"{name:22s} false alarms on test: " + ", ".join(f"{m.false_alarm_rate:.1%}" for m in rows))

# %% [markdown]
# Next: notebook 03 streams an exported network through the cycle-accurate MyHDL hardware and compares
# every score with the golden model.

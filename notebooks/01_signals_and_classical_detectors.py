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
# # 01 · Laser-line profiles and classical peak detectors
#
# In a laser-triangulation scanner every sensor column crosses the projected laser line once; the line's
# sub-pixel centre in that column *is* the depth measurement. This notebook shows
#
# 1. the seeded profile generator (`workbench.data.signals`): pixel-integrated Gaussian lines, background,
#    secondary reflections, shot + read noise, saturation and empty profiles, with per-profile ground truth;
# 2. the named presets the evaluation sweeps (SNR, sigma, reflections, saturation) and datasets on disk
#    (`workbench.data.datasets`: `.npz` + manifest, reused when valid);
# 3. the classical detectors (`workbench.detectors.classical`) the networks are compared with, their thresholds set
#    for the same 1 % false-alarm rate on empty *validation* profiles, and
# 4. their RMSE against SNR and their S-curve (bias against the sub-pixel phase) on a small test set.

# %%
# Parameters. The test suite sets WORKBENCH_SMALL=1 and gets a quick run; the default is larger.
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

SMALL = os.environ.get("WORKBENCH_SMALL", "0") == "1"
# Files this notebook writes go here (outside the repository when run by the test suite).
OUT = Path(os.environ.get("WORKBENCH_NOTEBOOK_OUT", "notebook_output")) / "01_signals"
OUT.mkdir(parents=True, exist_ok=True)
LENGTH = 128 if SMALL else 256         # pixels per profile
N_EXAMPLES = 400 if SMALL else 4000    # profiles drawn to pick examples from
N_VAL = 400 if SMALL else 4000         # validation profiles (mixed preset) to tune thresholds/windows
N_TEST = 300 if SMALL else 2000        # test profiles per SNR condition
SEED = 2023
print("small mode" if SMALL else "default mode", "| output folder:", OUT.resolve())

# %%
import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, display

from workbench.detectors import classical

from workbench.data import datasets, signals

from workbench.evaluation import tables, plots
# %matplotlib inline

# %% [markdown]
# ## 1 · The generator
#
# Every parameter lives in one frozen dataclass, `signals.GeneratorConfig`; amplitudes and backgrounds are
# fractions of full scale (`2^bits - 1`). The defaults (the `mixed` preset, used for training and
# validation) are physically motivated: `sigma` 0.7–3 px, amplitude log-uniform up to twice full scale (so
# some profiles saturate), 30 % of profiles with one or two weaker, possibly wider reflections, 10 % with no
# line at all.

# %%
config = signals.preset("mixed", length=LENGTH)
for key, value in config.to_dict().items():
    print(f"{key:28s} {value}")
print(f"{'read noise [DN]':28s} {config.read_noise_dn:.2f}   (electrons per DN: {config.electrons_per_dn:.1f})")

# %%
profiles, truth = signals.generate(config, N_EXAMPLES, seed=SEED)
print("profiles:", profiles.shape, profiles.dtype, "| truth keys:", list(truth))
for flag in ("saturated", "reflection", "empty"):
    print(f"  {flag:10s}: {truth[flag].mean():5.1%} of the profiles")
print("same seed, same data:", np.array_equal(profiles, signals.generate(config, N_EXAMPLES, seed=SEED)[0]))

# %% [markdown]
# Four typical cases: a clean line, a saturated one (flat top at full scale, where 3-point estimators
# lose their curvature), one with a secondary reflection (a weaker peak that an arg-max may still pick when
# noise is high), and an empty profile (background and noise only: what false alarms are made of).

# %%
clean = ~truth["saturated"] & ~truth["reflection"] & ~truth["empty"] & (truth["snr"] > 10)
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
fig.tight_layout()

# %% [markdown]
# ## 2 · Presets: the evaluation conditions
#
# The SNR is the line amplitude over the noise standard deviation at the peak (read and shot noise
# together). The `snr_*` presets fix it (and solve for the amplitude), the `sigma_*` presets fix the line
# width, `reflections`/`no_reflections` and `saturated`/`unsaturated` isolate one effect each.

# %%
for name, preset_config in signals.PRESETS.items():
    print(f"{name:15s} snr={preset_config.snr_range}  sigma={preset_config.sigma_range}  "
          f"reflections={preset_config.reflection_fraction:.0%}  empty={preset_config.empty_fraction:.0%}")

# %%
snrs = signals.SWEEP_SNRS
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
fig.tight_layout()

# %% [markdown]
# ### Datasets on disk
#
# `datasets.benchmark_splits` makes the training and validation sets (preset `mixed`) and one test set per
# condition, each from its own seed derived from a base seed, so no split can overlap another. Each is an
# `.npz` with a JSON manifest (generator parameters, seed, size, a hash of the generator's code, a content
# hash); a second call reuses the files, a changed parameter or a corrupted file regenerates them.

# %%
import time
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
print("test seeds:", {name: ds.manifest["seed"] for name, ds in splits.test.items()})

# %% [markdown]
# ## 3 · Classical detectors
#
# Every method is a scorer `profiles -> (score, pos)`, vectorised over the batch; `score` is the evidence
# for a line (the peak height above the profile's median, or the prominence) and a threshold on it decides
# `found`. The same rule calibrates every method, the networks included: **the threshold gives 1 % false
# alarms on the empty validation profiles**, and methods with a window (`cog`, `forest`,
# `find_peaks_cwt`) pick it on validation data too (`classical.tune`).

# %%
for name, m in classical.METHODS.items():
    print(f"{name:15s} windows={str(m.windows):22s} {m.description}")

# %%
val = splits.val
method_names = [n for n in classical.METHODS if not (SMALL and n == "find_peaks_cwt")]  # cwt: ~1 ms/profile
detectors, choices = {}, {}
for name in method_names:
    detectors[name], choices[name] = classical.tune(name, val)
    print(f"{name:15s} window={str(choices[name]['window']):5s} threshold={choices[name]['threshold']:8.2f}")

# %%
k = int(np.flatnonzero(clean)[0])
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
fig.tight_layout()

# %% [markdown]
# ## 4 · Accuracy against SNR
#
# `metrics.compute_metrics` splits each test set into empty profiles (false-alarm rate) and line profiles:
# missed, gross errors (`|pos - centre| > 1 px`) and good estimates, over which the sub-pixel RMSE (with a
# seeded 95 % bootstrap interval) and the bias are computed. The thresholds and windows were fixed on the
# validation set above; the test sets here come from other seeds.

# %%
rows, curves = tables.evaluate(detectors.values(), splits.test, seed=SEED, draws=200 if SMALL else 1000,
                                   s_curve_conditions=("snr_64",))
print(f"{'method':15s}" + "".join(f"{c:>17s}" for c in conditions))
for name in detectors:
    cells = [r for r in rows if r["method"] == name]
    print(f"{name:15s}" + "".join(f"{r['rmse_px']:8.3f} ({r['gross_error_rate'] + r['miss_rate']:5.1%})" for r in cells))
print("RMSE of good estimates in px (miss + gross-error rate) per SNR condition; nan: no good estimate")
csv_path = tables.write_csv(rows, OUT / "accuracy.csv")

# %% [markdown]
# The same figures as in the report (`workbench.evaluation.plots`), from the rows above. Error bars are the 95 %
# bootstrap intervals of the RMSE; a comparison is a win only where they do not overlap.

# %%
figures = [
    plots.plot_metric_vs_snr(rows, "rmse_px", OUT / "rmse_vs_snr.png", "sub-pixel RMSE (px)",
                             "RMSE of good estimates vs SNR (95 % bootstrap CI)", ci=("rmse_ci_low", "rmse_ci_high")),
    plots.plot_metric_vs_snr(rows, "gross_error_rate", OUT / "gross_vs_snr.png", "gross-error rate",
                             "Gross errors (|error| > 1 px) vs SNR", log_y=False),
    plots.plot_metric_vs_snr(rows, "miss_rate", OUT / "miss_vs_snr.png", "miss rate",
                             "Missed lines vs SNR (threshold at 1 % false alarms)", log_y=False),
]
for path in figures:
    display(Image(filename=str(path), width=720))

# %% [markdown]
# ## 5 · The S-curve
#
# The bias of an estimator depends on where the true centre falls inside its pixel (the sub-pixel phase
# `centre - round(centre)`). Plotted against the phase it draws an "S": a systematic error that averaging
# cannot remove. An estimator pulled towards the centre of the brightest pixel has a bias of the opposite
# sign to the phase (a falling S), one pushed away from it a rising S; a flat curve at 0 is the goal. The
# 3-point Gaussian estimator is exact only for noiseless point-sampled Gaussians; the generator integrates
# the line over each pixel and adds background and noise. Small test sets give noisy curves: the default
# mode uses more profiles.

# %%
shown = [c for c in curves if c["method"] != "argmax"]  # argmax's ramp (bias = -phase) would dwarf the others
path = plots.plot_s_curves(shown, OUT / "s_curves.png", f"S-curves at SNR 64 ({N_TEST} profiles)")
display(Image(filename=str(path), width=720))

# %% [markdown]
# The networks of notebook 02 are calibrated by the very same rule (1 % false alarms on empty validation
# profiles) and evaluated by the same metrics; `experiments/run_all.py` puts all of them into one table.

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
# # 03 · Export to `qnn-int/1`, the golden integer model, and cycle-by-cycle hardware
#
# The `qnn-int/1` JSON document is the **one interface** between training and hardware:
#
# ```
# Keras QAT model ──► export ──► qnn-int/1 JSON ──┬──► golden integer model (numpy)
#                                                  └──► MyHDL streaming hardware ──► VHDL / Verilog
# ```
#
# Every consumer re-validates the document (types, weight ranges, and the **recomputed** accumulator and
# product ranges) before using it, and every register in hardware is sized from those ranges, so no stage can
# wrap around. This notebook
#
# 1. obtains a document (exported from a briefly trained network),
# 2. reads it as an FPGA engineer would: layer by layer, with the widths each register needs,
# 3. evaluates it with the golden numpy model (every intermediate value an exact integer),
# 4. streams the same profiles through the MyHDL pipeline cycle by cycle, draws the pipeline like a
#    waveform viewer would, and compares every score and every `(found, pos)` with the golden model.

# %%
# Parameters. The test suite sets WORKBENCH_SMALL=1 and gets a quick run; the default is larger.
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

SMALL = os.environ.get("WORKBENCH_SMALL", "0") == "1"
# Files this notebook writes go here (outside the repository when run by the test suite).
OUT = Path(os.environ.get("WORKBENCH_NOTEBOOK_OUT", "notebook_output")) / "03_export"
OUT.mkdir(parents=True, exist_ok=True)
N_PROFILES = 16 if SMALL else 200      # profiles evaluated by the golden model and the hardware
LENGTH = 64 if SMALL else 128          # pixels per profile
LANES = 4                              # pixels per clock (P)
SEED = 3
print("small mode" if SMALL else "default mode", "| output folder:", OUT.resolve())

# %%
import copy
import numpy as np
import matplotlib.pyplot as plt

from workbench.qnn import contract, golden

from workbench.detectors import interface

from workbench.nn import export, integer_mode, models, training

from workbench.data import signals
from workbench.verify import beats, harness
from workbench.hw import top as hw_top

# %% [markdown]
# ## 1 · From a trained Keras model to a `qnn-int/1` document
#
# A small network is trained quantization-aware for a few epochs (notebook 02 looks at training in detail):
# `training.train_qat` trains, snaps every Requantizer's scale to `multiplier / 2^shift`, fine-tunes with the
# scales frozen and freezes the integer weights. `export.export_document` then writes exactly those integers,
# plus the head. The head's detection threshold is set like every detector's: 1 % false alarms on the
# *empty validation* profiles, computed on the integer scores.

# %%
LS = models.LayerSpec
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
threshold = int(interface.threshold_for_false_alarm(empty_max, integer=True))
document = export.export_document(trained.model, export.HeadConfig(threshold=threshold, refine="parabolic", frac_bits=6),
                                  metadata={"notebook": "03", "bits": spec.bits_label})
path = export.save_document(document, OUT / "qat_small.json")
network = contract.load_network(path)  # every reader validates, ranges included
print(f"{path.name}: {len(network.layers)} layers, head {network.head}")

# %% [markdown]
# ## 2 · Reading the document like a hardware designer
#
# For every weight layer the contract stores the interval bounds of its accumulator (`acc_min`, `acc_max`),
# for every requantizer those of `acc * multiplier + r` (`prod_min`, `prod_max`). The register width is the
# smallest two's-complement width holding the bound (`contract.bit_width`).

# %%
rows = []
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
    print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))

# %% [markdown]
# A reader never trusts stored ranges: change one weight and keep the old bounds, and the document is
# rejected with a message naming the layer and the key.

# %%
tampered = copy.deepcopy(network.document)
first = tampered["layers"][0]
first["bias"][0] += 1  # ranges no longer match the weights
try:
    contract.load_network(tampered)
except Exception as exc:  # ContractError
    print(type(exc).__name__, ":", exc)

# %% [markdown]
# ## 3 · The golden integer model
#
# `golden.run_golden` computes the network exactly (integer semantics of the contract, vectorised over the
# batch) and the peak head: `p` = first arg-max of the score, `found = s[p] >= threshold`, and the
# sub-pixel position `pos` in units of `2^-frac_bits` pixel. `golden.layer_outputs` returns every
# intermediate activation.

# %%
config = signals.preset("mixed", length=LENGTH, bits=network.input_bits)
profiles, truth = signals.generate(config, N_PROFILES, seed=SEED)
result = golden.run_golden(network, profiles)
outputs = golden.layer_outputs(network, profiles)
scale = 2.0 ** -network.head.frac_bits
print("found:", int(result.found.sum()), "of", N_PROFILES, "| empty profiles:", int(truth["empty"].sum()))

# %%
k = int(np.flatnonzero(~truth["empty"])[0])
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
    ax.set_ylabel(f"{layer.name}\n" + (f"channel\n[{x.min()}..{x.max()}]" if x.shape[1] > 1 else "score"))
if result.found[k]:
    axes[-1].axvline(result.pos[k] * scale, color="r", ls=":", label="golden pos")
axes[-1].set_xlabel("pixel")
axes[0].legend(loc="upper right", fontsize=8)
fig.suptitle(f"Profile {k}: every integer activation of the network (golden model; colour = value)")
fig.tight_layout()

# %% [markdown]
# The same document, read back into Keras (`integer_mode.model_from_document`), computes the same
# integers: the Keras layers in integer mode and the numpy golden model implement one contract. Equality is
# exact, not approximate; and a network with one weight changed by 1 gives different scores (a negative
# control: the comparison is able to fail).

# %%
keras_model = integer_mode.model_from_document(network.document)
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
      f"median |error| of the found lines {np.median(np.abs(error)):.3f} px")

# %% [markdown]
# ## 4 · The streaming hardware, cycle by cycle
#
# `hw.top.build_top(network, lanes, profile_length)` generates the MyHDL peak detector from the document
# alone (it never calls the golden model): per layer a window shift register with zero padding at the
# profile boundaries, constant-coefficient adder trees (shift-and-add, canonical signed digits), the
# requantizers, and the head (running arg-max, neighbours, pipelined divider). Its ports are AXI4-Stream
# style: `s_tdata` carries `P` pixels per beat, `s_tuser` marks the first beat of a profile, `s_tlast` the
# last, `s_tvalid` may have gaps, and there is no back-pressure. Every register is sized from the contract's
# ranges.

# %%
WAVE_LANES = 8
wave_design = hw_top.build_top(network, WAVE_LANES, LENGTH)
print(f"P = {wave_design.lanes} lanes, L = {wave_design.profile_length} px -> {wave_design.beats_per_profile} beats "
      f"per profile; score width {wave_design.score_bits} bits, pos width {wave_design.pos_bits} bits")
print(f"latency: scores {wave_design.latency} cycles after their input beat, result {wave_design.result_latency} "
      f"cycles after the profile's last beat")

# %% [markdown]
# ### A waveform of the pipeline
#
# Three profiles go through the design with random gaps in `s_tvalid` (probability 0.2 per beat), with a
# VCD trace. The small reader below samples the trace at every rising clock edge and draws the ports and the
# `valid` flag of every internal stage, like a waveform viewer: each beat's valid travels down the
# pipeline, the gaps travel with it, the scores leave `latency` cycles after their pixels, and one result
# pulse per profile follows its last beat. (The `.vcd` file opens in GTKWave as well.)

# %%
import re

def read_vcd(path):
    """{hierarchical name: (times, values)} of every variable in a VCD file (values as Python ints)."""
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
    """Values of one trace at the given times (the last change at or before each)."""
    t, v = trace
    return v[np.clip(np.searchsorted(t, times, side="right") - 1, 0, None)]

wave_profiles = profiles[np.flatnonzero(result.found)[:3]] if result.found.sum() >= 3 else profiles[:3]
vcd_path = OUT / "waveform.vcd"
wave_run = harness.run_design(wave_design, wave_profiles, gap_probability=0.2, seed=1, vcd=vcd_path)
traces = read_vcd(vcd_path)
top_name = next(name for name in traces if name.endswith("s_tvalid")).rsplit(".", 1)[0]
clk_t, clk_v = next(trace for name, trace in traces.items() if name.endswith("clk"))
falling = clk_t[1:][(clk_v[1:] == 0) & (clk_v[:-1] == 1)]
# The harness sets a cycle's inputs just after a falling edge and clocks 5 ns later; sampling 1 ns before
# that rising edge shows what the registers take in, and the outputs exactly as the harness records them.
at = falling[beats.RESET_CYCLES - 1:] + 4
port = lambda name: sample(traces[f"{top_name}.{name}"], at)
stage_valids = [name for name in traces if name.endswith("dout_valid") and name.startswith(top_name + ".")]
print(f"{len(traces)} traced signals, {len(at)} cycles, {len(stage_valids)} internal valid flags")

# %%
cycles = np.arange(len(at))
rows = [("s_tvalid", port("s_tvalid")), ("s_tuser", port("s_tuser")), ("s_tlast", port("s_tlast"))]
def stage_label(name):
    block, part = name[len(top_name) + 1:].split(".")[:2]
    return f"{block} / {re.sub(r'[0-9_]+$', '', part)} valid"

rows += [(stage_label(name), sample(traces[name], at)) for name in stage_valids]
rows += [("m_score_tvalid", port("m_score_tvalid")), ("m_score_tuser", port("m_score_tuser")),
         ("m_score_tlast", port("m_score_tlast")), ("m_result_tvalid", port("m_result_tvalid"))]
lanes_in = beats.unpack_lanes(port("s_tdata"), WAVE_LANES, wave_design.in_bits, signed=False)
lanes_out = beats.unpack_lanes(port("m_score_tdata"), WAVE_LANES, wave_design.score_bits)

heights = [0.35] * len(rows) + [2.0, 2.0]
fig, axes = plt.subplots(len(heights), 1, figsize=(13, 0.33 * len(rows) + 6), sharex=True,
                         gridspec_kw={"height_ratios": heights})
qualifier = {"s_tuser": port("s_tvalid"), "s_tlast": port("s_tvalid"),
             "m_score_tuser": port("m_score_tvalid"), "m_score_tlast": port("m_score_tvalid")}
for ax, (name, values) in zip(axes, rows):
    if name in qualifier:  # light: the raw wire; dark: the flag qualified by its valid
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
axes[-2].set_ylabel("s_tdata\nlane", fontsize=8)
axes[-1].imshow(image_out, aspect="auto", interpolation="nearest", cmap="viridis", extent=(-0.5, len(at) - 0.5, WAVE_LANES - 0.5, -0.5))
axes[-1].set_ylabel("m_score_tdata\nlane", fontsize=8)
result_valid = port("m_result_tvalid") == 1
for cycle, found, pos in zip(cycles[result_valid], port("m_found")[result_valid], port("m_pos")[result_valid]):
    axes[len(rows) - 1].annotate(f"found={int(found)} pos={pos * scale:.2f} px", (cycle, 1.0), fontsize=8,
                                 xytext=(4, 0), textcoords="offset points", va="bottom")
axes[-1].set_xlabel("clock cycle (after reset)")
axes[-1].set_xlim(-0.5, len(at) + 0.5)
fig.suptitle(f"Pipeline of the peak detector, P = {WAVE_LANES}, 3 profiles of {LENGTH} px with gaps in s_tvalid\n"
             "(grey: valid flag of every internal stage; pale blue: tuser/tlast wires while their valid is low)")
fig.tight_layout()

# %% [markdown]
# ### Exact comparison with the golden model
#
# `verify.harness.run_design` drives profiles through the design cycle by cycle and collects the score stream
# and the results; `hw.harness.compare` checks every score and every `(found, pos)` against the golden
# model. Back to back (`s_tvalid` held high) the design must take one beat per clock, so a profile costs
# exactly `L / P` cycles and every latency is the same; with random gaps the values must still match.
# (With gaps a beat's scores can leave a few cycles later: a convolution window needs the pixels to the
# right of a beat, which arrive with the next beat. The values never change.) The negative control runs
# the design generated from the document with one weight changed by 1.

# %%
design = hw_top.build_top(network, LANES, LENGTH)
back_to_back = harness.run_design(design, profiles)
with_gaps = harness.run_design(design, profiles, gap_probability=0.3, seed=2)
for label, run in (("back to back", back_to_back), ("random gaps", with_gaps)):
    check = harness.compare(design, profiles, run)
    score_lat, result_lat = harness.latencies(run, design.beats_per_profile)
    print(f"{label:12s}: {check.scores_compared} scores and {check.results_compared} results compared, "
          f"{check.mismatches} mismatches; latency scores {sorted(set(score_lat))}, results {sorted(set(result_lat))}; "
          f"{run.cycles} cycles, {run.cycles_per_second:,.0f} simulated cycles/s")
    assert check.mismatches == 0 and check.compared == profiles.size + len(profiles)
starts = np.array(back_to_back.in_cycles[::design.beats_per_profile])
print(f"cycles between profile starts (back to back): {sorted(set(np.diff(starts).tolist()))} "
      f"(L / P = {LENGTH // LANES})")

mutated_network = contract.load_network(contract.fill_ranges(mutated))
mutated_run = harness.run_design(hw_top.build_top(mutated_network, LANES, LENGTH), profiles)
control = harness.compare(design, profiles, mutated_run)  # checked against the ORIGINAL golden model
print(f"negative control: {control.mismatches} mismatches of {control.compared} values ({control.first_mismatch})")
assert control.mismatches > 0

# %%
k = int(np.flatnonzero(back_to_back.found)[0]) if back_to_back.found.any() else 0
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
fig.tight_layout()

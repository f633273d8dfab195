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
# # 04 · VHDL and Verilog: generation, proof of bit-exactness, resource estimates
#
# The MyHDL peak detector of notebook 03 is converted to **VHDL-2008** (for Vivado) and **Verilog** (for
# Icarus, Verilator and Yosys). Conversion is never trusted on its own: MyHDL simulates with unbounded
# integers, converted HDL computes at operand width, and some constructs convert silently wrong (mixed
# signed/unsigned sums, constants wider than the signal they multiply, ROM reads in conditional
# expressions). So every HDL folder carries self-checking testbenches with vector files from the golden
# model, and the workbench runs them:
#
# ```
# qnn-int/1 ──► hw.top.build_top ──► MyHDL ──► VHDL-2008 ──► GHDL testbench      ─┐
#                                         └──► Verilog   ──► Icarus testbench    ─┼─► VERDICT PASS compared=N mismatches=0
#                                                        ──► Icarus lockstep co-simulation with MyHDL
#                                                        ──► Verilator lint, Yosys synth_xilinx
# golden model ──► vector files (stimulus, expected scores and results) ──────────┘
# ```
#
# This notebook writes the HDL folder a Vivado user receives, runs GHDL and Icarus on it, shows that a
# wrong network makes the testbench fail, and estimates resources and throughput with Yosys.
# Everything here is **pre-route**: clock figures are "estimated to reach", and there is no power estimate.

# %%
# Parameters. The test suite sets WORKBENCH_SMALL=1 and gets a quick run; the default is larger.
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

SMALL = os.environ.get("WORKBENCH_SMALL", "0") == "1"
# Files this notebook writes go here (outside the repository when run by the test suite).
OUT = Path(os.environ.get("WORKBENCH_NOTEBOOK_OUT", "notebook_output")) / "04_hdl"
OUT.mkdir(parents=True, exist_ok=True)
LENGTH = 64                               # pixels per profile (a multiple of every lane count below)
VERIFY_LANES = (1, 4) if SMALL else (1, 4, 8)  # HDL folders written and verified in GHDL and Icarus
N_VECTORS = 12 if SMALL else 200          # profiles in the vector files (generator + edge cases)
YOSYS_LANES = (1,) if SMALL else (1, 4)   # full Yosys runs (minutes for wide designs)
SCALED_LANES = (4, 16, 32) if SMALL else (16, 32)  # rows extrapolated from the Yosys runs
SEED = 11
print("small mode" if SMALL else "default mode", "| output folder:", OUT.resolve())

# %%
import numpy as np
from IPython.display import Image, Markdown, display

from workbench.qnn import contract, golden

from workbench.detectors import interface

from workbench.nn import export, models, training

from workbench.data import signals
from workbench.verify import cosim
from workbench.hdl import estimates, figure, hardware, network as hdl_network, package as hdl_package
from workbench.verify import simulators, vectors, check

# %% [markdown]
# ## 1 · A trained network
#
# A small network trained for a few epochs and exported to `qnn-int/1` (see notebooks 02 and 03); the
# small mode uses an even smaller one so that Yosys finishes quickly. Any valid document works here.

# %%
LS = models.LayerSpec
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
threshold = int(interface.threshold_for_false_alarm(golden.scores(draft, val_p[val_t["empty"]]).max(axis=1), integer=True))
document = export.export_document(trained.model, export.HeadConfig(threshold=threshold, frac_bits=6))
network = contract.load_network(export.save_document(document, OUT / "qat_hdl.json"))
print(f"{spec.bits_label} network, {network.macs_per_pixel} MACs/pixel, score range {network.score_range}, "
      f"threshold {threshold}")

# %% [markdown]
# ## 2 · The HDL folder
#
# `hdl.network.network_design` wraps the generated top-level (`hw.top.build_top`) for the HDL flow, and
# `hdl.package.write_package` converts it and writes everything a Vivado user needs. The vector files hold
# generator profiles plus edge cases (all zeros, full scale, peaks at the first and last pixel) with the
# golden model's expected scores and results. The same folder comes out of
# `workbench hdl --model m.json --lanes 4 --out DIR --verify`.

# %%
rng = np.random.default_rng(SEED)
test_p, test_t = signals.generate(mixed, N_VECTORS // 2, seed=SEED + 2)
profiles = np.concatenate([test_p, vectors.stress_profiles(rng, N_VECTORS - len(test_p), LENGTH, network.input_bits)])
expected = vectors.golden_vectors(network, profiles)
packages = {}
for lanes in VERIFY_LANES:
    design = hdl_network.network_design(network, lanes, LENGTH)
    packages[lanes] = hdl_package.write_package(design, OUT / f"hdl_p{lanes}", expected, document=network.document)
root = packages[VERIFY_LANES[-1]].root
for path in sorted(p for p in root.rglob("*") if p.is_file()):
    print(f"{str(path.relative_to(root)):32s} {path.stat().st_size:>9,d} bytes")

# %%
design_info = packages[VERIFY_LANES[-1]].design
print(f"top {design_info['top']}: P = {design_info['lanes']}, L = {design_info['profile_length']}, "
      f"latency {design_info['latency']} cycles, {design_info['values']} values in the vectors")
print(f"{'port':16s} {'dir':4s} {'bits':>5s}")
for p in design_info["ports"]:
    print(f"{p['name']:16s} {p['direction']:4s} {p['width']:>5d}")
vhdl = (root / "vhdl" / f"{design_info['top']}.vhd").read_text().splitlines()
start = next(i for i, line in enumerate(vhdl) if line.lower().startswith("entity"))
print("\n".join(vhdl[start:start + 18]))

# %% [markdown]
# ## 3 · GHDL and Icarus verdicts
#
# Each testbench reads the stimulus (once back to back, once with idle cycles in `s_tvalid`), compares
# every score beat and every result with the expected values, and prints one line
# `VERDICT PASS|FAIL compared=N mismatches=M`. GHDL's exit code is not trusted (a converted VHDL testbench
# ends with a failure assertion even when it passed): `verify.verify_package` judges by the verdict line
# and also requires `compared` to equal the number of values written, so a testbench that compares nothing
# cannot pass.

# %%
rows = []
for lanes, package in packages.items():
    for verdict, stimulus in zip(check.verify_package(package, timeout_s=300), ("back to back", "with gaps") * 2):
        rows.append((lanes, verdict.simulator, stimulus, verdict.compared, verdict.mismatches,
                     verdict.seconds, verdict.clocks_per_second))
print(f"{'P':>2s} {'simulator':9s} {'stimulus':12s} {'compared':>9s} {'mismatches':>10s} {'seconds':>8s} {'clocks/s':>10s}")
for lanes, sim, stim, compared, bad, seconds, speed in rows:
    print(f"{lanes:>2d} {sim:9s} {stim:12s} {compared:>9d} {bad:>10d} {seconds:>8.2f} {speed:>10,.0f}")
assert all(bad == 0 for *_, bad, _, _ in rows)
lint = simulators.verilator_lint(packages[VERIFY_LANES[0]].file("verilog"), design_info["top"])
print(f"verilator --lint-only: clean (waived: {', '.join(simulators.VERILATOR_WAIVERS)})", lint.strip()[:200])

# %% [markdown]
# **Negative control.** The same testbench, given the hardware of a network whose score layer has one
# weight changed by 1, must fail: otherwise the comparison proves nothing.

# %%
import copy
mutated = copy.deepcopy(network.document)
w = mutated["layers"][-1]["weights"][len(mutated["layers"][-1]["weights"]) // 2][0]
w[0] += -1 if w[0] > 0 else 1
wrong_design = hdl_network.network_design(contract.load_network(contract.fill_ranges(mutated)), 1, LENGTH)
wrong = hdl_package.write_package(wrong_design, OUT / "hdl_wrong", expected)  # expected values of the RIGHT network
verdict = check.run_testbench(wrong, "icarus", timeout_s=300)
print(f"icarus on the wrong hardware: passed={verdict.passed}, compared={verdict.compared}, "
      f"mismatches={verdict.mismatches}")
assert not verdict.passed and verdict.mismatches > 0

# %% [markdown]
# ## 4 · Lockstep co-simulation
#
# The Verilog runs in Icarus *inside* the MyHDL simulation (MyHDL's `Cosimulation` through its VPI module):
# both receive the same inputs each clock, with gaps in `s_tvalid`, and every output port is compared
# every cycle, not only at valid beats.

# %%
co_design = hdl_network.network_design(network, VERIFY_LANES[-1], LENGTH)
co = cosim.cosimulate(co_design, profiles[: 4 if SMALL else 40], timeout_s=300)
print(f"{co.cycles} cycles, {co.compared} port values compared, {co.mismatches} mismatches, "
      f"{co.cycles_per_second:,.0f} cycles/s")
assert co.mismatches == 0

# %% [markdown]
# ## 5 · Resources and throughput (Yosys, pre-route)
#
# `hdl.hardware.hardware_rows` converts the design at each lane count, runs Yosys `synth_xilinx -family
# xc7` with and without DSP inference (constant products are shift-and-add, so small weights need no
# DSP48), and estimates a clock from Yosys's cell delays times a stated routing factor, capped at the part's
# fabric limit. Wider designs are extrapolated from the Yosys runs (`yosys-scaled`); the analytic model's
# LUT/FF numbers from the network alone sit alongside as a sanity check. Throughput = P x clock; the paper's
# design point is 4 Gpixel/s.

# %%
make_design = lambda lanes: hdl_network.network_design(network, lanes, LENGTH)
hw_rows = hardware.hardware_rows("qat_hdl", network, make_design, yosys_lanes=YOSYS_LANES, scaled_lanes=SCALED_LANES,
                                 timeout_s=600, cache_dir=OUT / "yosys_cache")
columns = ("lanes", "method", "luts", "ffs", "carry4", "dsps", "dsps_nodsp", "luts_analytic", "f_est_mhz",
           "gpix_per_s_est", "ops_per_pixel", "tops_est", "estimated_to_reach_4gpix")
table = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
table += "\n".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in hw_rows)
display(Markdown(table))
f_est = max((r for r in hw_rows if r["method"] == "yosys"), key=lambda r: r["lanes"])["f_est_mhz"]
if len(YOSYS_LANES) == 1:
    print("(one Yosys run only: the scaled rows are simply proportional to P, which over-counts the shared head)")
print(f"pre-route clock estimate {f_est} MHz: estimated to reach {estimates.PAPER_GPIX_PER_S:g} Gpixel/s "
      f"with P = {estimates.lanes_for_target(f_est)} lanes (an estimate, not a timing-closed result)")

# %%
figure.plot_hardware(hw_rows, OUT / "hardware_lanes.png")
# %matplotlib inline
display(Image(filename=str(OUT / "hardware_lanes.png"), width=760))

# %% [markdown]
# ## 6 · Into Vivado
#
# Each HDL folder has a `README.md` and `vivado/create_project.tcl`, which creates a project for a chosen
# part (default a mid-range Kintex-7), adds the sources as VHDL-2008 and the testbench with its vectors,
# constrains the clock, runs synthesis and implementation and writes utilization, timing and power reports:
#
# ```
# vivado -mode batch -source vivado/create_project.tcl -tclargs xc7k160tffg676-2 250
# ```
#
# Vivado's own reports then replace the estimates above (post-route timing, power and so TOPS/W).

# %%
tcl = packages[VERIFY_LANES[-1]].file("vivado").read_text().splitlines()
print("\n".join(tcl[:12]))

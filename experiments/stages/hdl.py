"""run_all stage `hdl`: VHDL/Verilog for the trained models, proven bit-exact in GHDL and Icarus,
and the hardware table (Yosys counts, pre-route clock and throughput estimates).

Inputs: the qnn-int/1 documents in the training stage's `models/` folder (quick: one, `qat_4-4`
when present, else the first in name order; full: all). Outputs:
- `hdl/<model>_p<P>/`: the folder `workbench hdl` writes (sources, testbenches, vectors, Tcl);
- `tables/bitexact_hdl.csv`: one row per model, lanes, simulator and stimulus (model, stage,
  lanes, profiles, compared, mismatches, seconds, clocks_per_s);
- `tables/hardware.csv`: see workbench.hdl.table (Yosys, scaled and analytic rows);
- `figures/hardware_lanes.png` and `report/hardware.md` (which lanes and bits are estimated to reach the
  paper's 4 Gpixel/s, and at what cost).
The stage fails (after writing its tables) if any testbench reports a mismatch.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from workbench.pipeline.stages import Stage, StageContext

# GHDL's mcode backend runs the network top-level at only a few hundred clocks/s, so in the quick
# run it checks the first `ghdl_profiles` profiles (Icarus checks all `profiles`).
SETTINGS = {
    "quick": {"pipeline_stages": 3, "models": 1, "prefer": ["qat_4-4"], "verify_lanes": [1, 4], "profiles": 200,
              "ghdl_profiles": 16, "length": 256,
              "yosys_lanes": [1, 4], "scaled_lanes": [16, 32], "analytic_lanes": [],
              "stimuli": ["stimulus.txt", "stimulus_gaps.txt"], "yosys_timeout_s": 1800},
    "full": {"pipeline_stages": 3, "models": None, "prefer": [], "verify_lanes": [1, 4, 16], "profiles": 500,
             "ghdl_profiles": 500, "length": 256,
             "yosys_lanes": [1, 2, 4, 8, 16, 32], "scaled_lanes": [], "analytic_lanes": [64],
             "stimuli": ["stimulus.txt", "stimulus_gaps.txt"], "yosys_timeout_s": 3600},
}


def trained_models(folder: Path, limit: int | None, prefer: list[str]) -> list[Path]:
    """The qnn-int/1 documents in `folder`: the `prefer`red names first, then name order; at most `limit`."""
    from workbench.qnn.artifacts import documents

    found = documents(folder)
    found.sort(key=lambda path: prefer.index(path.stem) if path.stem in prefer else len(prefer))
    return found[:limit] if limit else found


def summary(rows: list[dict]) -> str:
    """hardware.md: per network, the fewest lanes estimated to reach 4 Gpixel/s and their cost."""
    from workbench.hdl.estimates import PAPER_GPIX_PER_S

    lines = ["## Hardware estimates", "",
             "Clock estimates are pre-route (Yosys cell delays x a routing factor, capped at the part's "
             "fabric limit): a design is only *estimated to reach* a rate. No power or TOPS/W estimate: "
             "that needs Vivado's power report.", "",
             f"| model | W/A bits | fewest lanes estimated to reach {PAPER_GPIX_PER_S:g} Gpixel/s | "
             "est. Gpixel/s | LUTs | FFs | DSPs | method |", "|---|---|---|---|---|---|---|---|"]
    for model in sorted({r["model"] for r in rows}):
        mine = sorted((r for r in rows if r["model"] == model and r.get("estimated_to_reach_4gpix")),
                      key=lambda r: r["lanes"])
        first = next(iter(r for r in rows if r["model"] == model))
        bits = f"W{first['weight_bits']}/A{first['act_bits']}"
        if mine:
            r = mine[0]
            lines.append(f"| {model} | {bits} | {r['lanes']} | {r['gpix_per_s_est']} | {r['luts']} | {r['ffs']} "
                         f"| {r['dsps']} | {r['method']} |")
        else:
            lines.append(f"| {model} | {bits} | not within the lanes tabulated | | | | | |")
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> None:
    """Generate, verify and estimate (see the module docstring)."""
    from workbench.qnn.contract import load_network
    from workbench.evaluation.tables import BITEXACT_COLUMNS, write_csv
    from workbench.hdl.figure import plot_hardware
    from workbench.hdl.hardware import hardware_rows
    from workbench.hdl.network import network_design
    from workbench.hdl.package import write_package
    from workbench.verify.simulators import HdlVerificationError
    from workbench.hdl.table import write_rows
    from workbench.verify.vectors import VectorSet, golden_vectors, stress_profiles, write_vectors
    from workbench.verify.check import SIMULATORS, run_testbench

    s = ctx.settings
    length = s["length"]
    bitexact, hardware, failures = [], [], []
    for model_path in trained_models(ctx.dep("training") / "models", s["models"], s["prefer"]):
        model = model_path.stem
        network = load_network(model_path)
        profiles = stress_profiles(np.random.default_rng(ctx.config.seed), s["profiles"], length,
                                   network.input_bits)
        vectors = golden_vectors(network, profiles)
        few = VectorSet(*(array[:s["ghdl_profiles"]] for array in
                          (vectors.profiles, vectors.scores, vectors.found, vectors.pos)))
        for lanes in s["verify_lanes"]:
            design = network_design(network, lanes, length, s["pipeline_stages"])
            package = write_package(design, ctx.out / "hdl" / f"{model}_p{lanes}", vectors,
                                    document=network.document)
            with tempfile.TemporaryDirectory(prefix="ghdl-vectors-") as tmp:
                write_vectors(Path(tmp), design, few)
                for simulator in SIMULATORS:
                    checked = few if simulator == "ghdl" else vectors
                    for stimulus in s["stimuli"]:
                        verdict = run_testbench(package, simulator, stimulus,
                                                vectors=Path(tmp) if simulator == "ghdl" else None)
                        stage = f"{'vhdl' if simulator == 'ghdl' else 'verilog'}-{simulator}-{Path(stimulus).stem}"
                        bitexact.append({"model": model, "stage": stage, "lanes": lanes,
                                         "profiles": len(checked.found), "compared": verdict.compared,
                                         "mismatches": verdict.mismatches, "seconds": round(verdict.seconds, 2),
                                         "clocks_per_s": round(verdict.clocks_per_second)})
                        ctx.log.info("hdl %s P=%d %s: compared %d, mismatches %d (%.1f s)", model, lanes, stage,
                                     verdict.compared, verdict.mismatches, verdict.seconds)
                        if not verdict.passed or verdict.compared != checked.value_count:
                            failures.append(f"{model} P={lanes} {stage}")
        hardware += hardware_rows(model, network,
                                  lambda p, net=network: network_design(net, p, length, s["pipeline_stages"]),
                                  yosys_lanes=tuple(s["yosys_lanes"]), scaled_lanes=tuple(s["scaled_lanes"]),
                                  analytic_lanes=tuple(s["analytic_lanes"]), timeout_s=s["yosys_timeout_s"],
                                  pipeline_stages=s["pipeline_stages"])
    tables = ctx.out / "tables"
    write_csv(bitexact, tables / "bitexact_hdl.csv", BITEXACT_COLUMNS)
    write_rows(tables / "hardware.csv", hardware)
    plot_hardware(hardware, ctx.out / "figures" / "hardware_lanes.png")
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "hardware.md").write_text(summary(hardware))
    if failures:
        raise HdlVerificationError(f"HDL testbenches failed: {', '.join(failures)}")


STAGE = Stage(
    name="hdl",
    run=run,
    depends=("training",),
    description="VHDL/Verilog, GHDL/Icarus bit-exactness, Yosys estimates",
    settings=SETTINGS,
)

"""Stage `myhdl`: the MyHDL streaming hardware of a trained model, simulated cycle by cycle.

Drives test profiles through `workbench.hw` (with the pipelining the HDL flow uses; one beat per clock, then with random gaps in `tvalid`)
for each lane count and compares every score and every `(found, pos)` with the golden model.
Writes `tables/bitexact_myhdl.csv` (model, stage, lanes, profiles, compared, mismatches, seconds,
clocks_per_s), `tables/latency.csv` and `report/hardware_sim.md`. Fails on any mismatch.
"""
from __future__ import annotations

import numpy as np

from workbench.qnn.artifacts import pick_document
from workbench.data.datasets import load_stage_splits
from workbench.errors import WorkbenchError
from workbench.evaluation.tables import BITEXACT_COLUMNS, write_csv
from workbench.pipeline.stages import Stage, StageContext

LATENCY_COLUMNS = ("model", "lanes", "score_latency_cycles", "result_latency_cycles", "cycles_per_profile",
                   "beats_per_profile")


def _markdown(bitexact: list[dict], latency: list[dict]) -> str:
    lines = ["## Cycle-by-cycle MyHDL simulation", "",
             "Every score and every `(found, pos)` of the streaming hardware against the golden model "
             "(`tables/bitexact_myhdl.csv`):", "",
             "| model | stimulus | lanes | profiles | values compared | mismatches | cycles/s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['stage']} | {r['lanes']} | {r['profiles']} | {r['compared']} | {r['mismatches']} "
              f"| {r['clocks_per_s']} |" for r in bitexact]
    lines += ["", "Latency with `tvalid` held high (`tables/latency.csv`):", "",
              "| model | lanes | score latency (cycles) | result latency after last beat | cycles per profile |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['lanes']} | {r['score_latency_cycles']} | {r['result_latency_cycles']} | "
              f"{r['cycles_per_profile']} |" for r in latency]
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> None:
    from workbench.qnn.contract import load_network
    from workbench.verify.harness import compare, latencies, run_design
    from workbench.hw.top import DEFAULT_PIPELINE_STAGES, build_top

    s = ctx.settings
    doc_path = pick_document(ctx.dep("training") / "models")
    network = load_network(doc_path)
    profiles = load_stage_splits(ctx.dep("datasets")).test["mixed"].profiles[:s["profiles"]]
    bitexact, latency = [], []
    for lanes in s["lanes"]:
        design = build_top(network, lanes, profiles.shape[1], pipeline_stages=DEFAULT_PIPELINE_STAGES)
        for stage, gaps in (("myhdl-back-to-back", 0.0), ("myhdl-gaps", s["gap_probability"])):
            sim = run_design(design, profiles, gap_probability=gaps, seed=ctx.config.seed)
            result = compare(design, profiles, sim)
            bitexact.append({"model": doc_path.stem, "stage": stage, "lanes": lanes, "profiles": len(profiles),
                             "compared": result.compared, "mismatches": result.mismatches,
                             "seconds": round(sim.seconds, 2), "clocks_per_s": round(sim.cycles_per_second)})
            ctx.log.info("myhdl %s P=%d %s: compared %d, mismatches %d, %.0f cycles/s", doc_path.stem, lanes,
                         stage, result.compared, result.mismatches, sim.cycles_per_second)
            if gaps == 0.0:
                score_lat, result_lat = latencies(sim, design.beats_per_profile)
                spacing = np.diff(sim.result_cycles)
                latency.append({"model": doc_path.stem, "lanes": lanes,
                                "score_latency_cycles": sorted(set(score_lat)),
                                "result_latency_cycles": sorted(set(result_lat)),
                                "cycles_per_profile": sorted(set(spacing.tolist())),
                                "beats_per_profile": design.beats_per_profile})
    write_csv(bitexact, ctx.out / "tables" / "bitexact_myhdl.csv", BITEXACT_COLUMNS)
    write_csv(latency, ctx.out / "tables" / "latency.csv", LATENCY_COLUMNS)
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "hardware_sim.md").write_text(_markdown(bitexact, latency))
    failed = [r for r in bitexact if r["mismatches"] or not r["compared"]]
    if failed:
        raise WorkbenchError(f"MyHDL hardware and golden model disagree: {failed}")


# the study mode (run_all --study) trains more networks; its later stages are the quick run's
QUICK = {"lanes": [1, 4], "profiles": 6, "gap_probability": 0.2}

STAGE = Stage(
    name="myhdl",
    run=run,
    depends=("datasets", "training"),
    description="cycle-by-cycle MyHDL simulation against the golden model",
    settings={"quick": QUICK, "study": QUICK,
              "full": {"lanes": [1, 4, 8], "profiles": 40, "gap_probability": 0.2}},
)

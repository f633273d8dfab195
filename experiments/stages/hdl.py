"""run_all stage `hdl`: VHDL/Verilog for the trained models, proven bit-exact, and the hardware table
(Yosys counts, pre-route clock and throughput estimates).

Inputs: the qnn-int/1 documents in the training stage's `models/` folder (quick: one, `qat_4-4`
when present, else the first in name order; full: all) and the datasets stage's test sets.
Verification, at every lane count of `verify_lanes`, on both stimulus files (back to back, with
tvalid gaps):
- Verilator, the fast path: the synthetic stress profiles of the folder's vectors and every profile
  of every test condition (`test_profiles` per condition; None: all), each design built once;
- GHDL (VHDL, the `ghdl_backend` setting when installed, else the quickest to start) and Icarus (Verilog),
  independent checks on the first `subset_profiles` stress profiles.
Each testbench is built once per design; simulations run two at a time in worker threads
(`workbench.verify.vector_sets`), GHDL and Icarus in a thread of their own beside the Verilator builds
and runs, and the Yosys runs in two more threads, the widest design (the longest run) converted and
started first (all external processes; the MyHDL conversion stays in the main thread). Each step's
wall seconds go to the log as `hdl step <what>: <s> s` (docs/hdl.md, "Time of the stage"); issue 13's
additions (the post-synthesis simulation, the classical detector) and issue 12's (the hybrids) run after
the networks' part as
`addition` steps, so that their time is budgeted apart. Post-synthesis: at `postsynth_lanes`,
the very netlist Yosys counted for the hardware table runs in Icarus with Yosys's Xilinx cell models
(`workbench.verify.postsynth`) on the first `postsynth_profiles` stress profiles, both stimuli
(rows `verilog-icarus-postsynth-<stimulus>`). Outputs:
- `hdl/<model>_p<P>/`: the folder `workbench hdl` writes (sources, testbenches, vectors, Tcl);
- `tables/bitexact_hdl.csv`: one row per model, lanes, simulator and stimulus (model, stage,
  lanes, profiles, compared, mismatches, seconds, clocks_per_s); the test sets' rows
  (`verilog-verilator-testsets-<stimulus>`) sum the runs of all conditions;
- `tables/hardware.csv`: see workbench.hdl.table (Yosys, scaled and analytic rows);
- `tables/parts.csv`: see workbench.hdl.fit (the most lanes that fit each listed part, and whether
  4 and 8 Gpixel/s fit);
- `figures/hardware_lanes.png` and `report/hardware.md` (which lanes and bits are estimated to reach the
  paper's 4 Gpixel/s, and at what cost; which part for 4 and 8 Gpixel/s).
The classical detector in hardware (`workbench.hw.br_top`, the streaming integer BR8 of
`workbench.qnn.br8_integer`, its threshold tuned on the validation set; setting `classical`) goes
through the same verification as model `br8_int` (`hdl/br8_int_p<P>/`, its settings in
`hdl/br8_int.json`) and gets its own Yosys rows in `tables/hardware.csv` (at `yosys_lanes`, no
scaled or analytic rows) and in `tables/parts.csv`.
The HYBRID of each network verified (setting `hybrids`): the hybrids stage's `qnn-int/2` document
`models/<network>.hybrid.json` (the run seed's; the network gates, its learned width-adaptive refinement
locates), its hardware (`workbench.hw.adaptive_top`, or `hybrid_top` for a fixed refinement) verified against
`golden_v2` as the networks are (`hdl/<network>.hybrid_p<P>/`, rows of model `<network>.hybrid` in
`tables/bitexact_hdl.csv`, post-synthesis included) and synthesised at `yosys_lanes` (rows of model
`<network>.hybrid` in `tables/hardware.csv`; no scaled or analytic rows; the report keeps them out of the
networks' hardware goals).
The stage fails (after writing its tables) if any testbench reports a mismatch or compares a
number of values other than the vectors hold.
"""
from __future__ import annotations

import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from workbench.pipeline.stages import Stage, StageContext

SETTINGS = {
    "quick": {"pipeline_stages": 3, "models": 1, "prefer": ["qat_4-4"], "verify_lanes": [1, 4], "profiles": 200,
              "subset_profiles": 16, "ghdl_backend": "mcode", "test_profiles": None, "length": 256,
              "yosys_lanes": [1, 4], "scaled_lanes": [16, 32], "analytic_lanes": [],
              "stimuli": ["stimulus.txt", "stimulus_gaps.txt"], "yosys_timeout_s": 1800,
              "postsynth_lanes": [1], "postsynth_profiles": 2, "classical": True, "hybrids": True,
              "hybrid_lanes": [1]},
    "full": {"pipeline_stages": 3, "models": None, "prefer": [], "verify_lanes": [1, 4, 16], "profiles": 500,
             "subset_profiles": 500, "ghdl_backend": "llvm", "test_profiles": None, "length": 256,
             "yosys_lanes": [1, 2, 4, 8, 16, 32], "scaled_lanes": [], "analytic_lanes": [64],
             "stimuli": ["stimulus.txt", "stimulus_gaps.txt"], "yosys_timeout_s": 3600,
             "postsynth_lanes": [1, 4], "postsynth_profiles": 4, "classical": True, "hybrids": True,
             "hybrid_lanes": [1, 4, 16]},
}
SETTINGS["study"] = {**SETTINGS["quick"], "test_profiles": 2000}  # the study's test sets are 5x the quick run's
SIMULATION_TIMEOUT_S = 3600
HYBRID_SUFFIX = ".hybrid.json"  # the hybrids stage's documents, `models/<network>.hybrid.json` (its HYBRID_SUFFIX;
# not imported: that would bring the hybrids stage's code into this stage's cache key)
# `ghdl_backend`: on 16 profiles GHDL's mcode back end wins (llvm runs about 2.3x faster but its
# elaboration, native code generation, costs minutes on the network); full mode asks for llvm.


def yosys_timeout_s(settings: dict, lanes: int) -> float:
    """The limit of one Yosys run: `yosys_timeout_s` up to 4 lanes, times lanes / 4 beyond (Yosys's time
    grows at least in proportion to the lanes: a small network took 26 s at 2 lanes and 168 s at 8 under
    load, docs/hdl.md; full mode's 32-lane run would not finish within the flat 3,600 s)."""
    return settings["yosys_timeout_s"] * max(1.0, lanes / 4)


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
        bits = f"W{first['weight_bits']}/A{first['act_bits']}" if first["weight_bits"] != "" else "classical"
        if mine:
            r = mine[0]
            lines.append(f"| {model} | {bits} | {r['lanes']} | {r['gpix_per_s_est']} | {r['luts']} | {r['ffs']} "
                         f"| {r['dsps']} | {r['method']} |")
        else:
            lines.append(f"| {model} | {bits} | not within the lanes tabulated | | | | | |")
    return "\n".join(lines) + "\n"


@contextmanager
def _step(ctx: StageContext, label: str) -> Iterator[None]:
    """Log the wall seconds of the block as `hdl step <label>: <seconds> s`, the stage's profile (docs/hdl.md,
    "Time of the stage"; `experiments/compare_hdl_stage.py` sums the `addition` steps)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        ctx.log.info("hdl step %s: %.1f s", label, time.perf_counter() - start)


def _built(ctx: StageContext, stack: ExitStack, model: str, lanes: int, package: Any, simulator: str,
           **options: Any) -> Callable[..., Any]:
    """`check.built_testbench(package, simulator, **options)` entered on `stack`, its build logged as a step."""
    from workbench.verify.check import built_testbench

    with _step(ctx, f"build {simulator} {model} P={lanes}"):
        return stack.enter_context(built_testbench(package, simulator, timeout_s=SIMULATION_TIMEOUT_S, **options))


def _row(model: str, stage: str, lanes: int, profiles: int, verdicts: list) -> dict:
    seconds = sum(v.seconds for v in verdicts)
    return {"model": model, "stage": stage, "lanes": lanes, "profiles": profiles,
            "compared": sum(v.compared for v in verdicts), "mismatches": sum(v.mismatches for v in verdicts),
            "seconds": round(seconds, 2), "clocks_per_s": round(sum(v.clocks for v in verdicts) / seconds)
            if seconds > 0 else 0}


class _Verification:
    """Collects the bit-exactness rows of the stage and the runs that failed."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx, self.rows, self.failures = ctx, [], []

    def record(self, model: str, stage: str, lanes: int, profiles: int, verdicts: list, expected: int) -> None:
        """One row for `verdicts` (runs of one stimulus); a failure unless all passed with `expected`
        values compared in total."""
        row = _row(model, stage, lanes, profiles, verdicts)
        self.rows.append(row)
        self.ctx.log.info("hdl %s P=%d %s: %d profiles, compared %d, mismatches %d (%.1f s, %d clocks/s)", model,
                          lanes, stage, profiles, row["compared"], row["mismatches"], row["seconds"],
                          row["clocks_per_s"])
        if not all(v.passed for v in verdicts) or row["compared"] != expected:
            self.failures.append(f"{model} P={lanes} {stage}")


def _first(vectors, count: int):
    from workbench.verify.vectors import VectorSet

    return VectorSet(*(array[:count] for array in (vectors.profiles, vectors.scores, vectors.found, vectors.pos)))


def _test_sets(ctx: StageContext, limit: int | None, length: int) -> dict[str, Any]:
    """Every condition's test set (the first `limit` profiles of each when set)."""
    from workbench.data.datasets import load_stage_splits
    from workbench.errors import ConfigError

    test = load_stage_splits(ctx.dep("datasets")).test
    sets = {name: dataset.subset(slice(0, limit)) for name, dataset in test.items()}
    wrong = {name: d.profiles.shape[1] for name, d in sets.items() if d.profiles.shape[1] != length}
    if wrong:
        raise ConfigError(f"test profiles of {wrong} pixels; the hdl stage's designs take {length}")
    return sets


def _verify_model(ctx: StageContext, model: str, designs: dict[int, Any], expected: Callable[[np.ndarray], Any],
                  in_bits: int, document: dict | None, test_sets: dict[str, Any], work: Path,
                  yosys: ThreadPoolExecutor, check: _Verification) -> tuple[dict, dict[int, Future], object]:
    """Write the folders of `designs` (lanes -> StreamDesign), start their Yosys runs and verify them against
    `expected(profiles)` (a VectorSet from the golden model) on the test sets of the `in_bits` input depth (the
    others, e.g. `bits_12` for an 8-bit design, are outside its input range); returns lanes -> (design,
    package), lanes -> Yosys job, and the stress vectors."""
    from workbench.hdl.package import write_package
    from workbench.hdl.synth import synthesize
    from workbench.verify.check import SIMULATORS
    from workbench.verify.simulators import installed_ghdl_backends
    from workbench.verify.vector_sets import run_vector_sets
    from workbench.verify.vectors import stress_profiles

    s = ctx.settings
    stress = expected(stress_profiles(np.random.default_rng(ctx.config.seed), s["profiles"], s["length"], in_bits))
    subset = {"subset": _first(stress, s["subset_profiles"])}
    packages, synth = {}, {}
    for lanes in sorted(designs, reverse=True):  # the widest first: its Yosys run is the longest
        with _step(ctx, f"convert {model} P={lanes}"):
            packages[lanes] = designs[lanes], write_package(designs[lanes], ctx.out / "hdl" / f"{model}_p{lanes}",
                                                            stress, document=document)
        if lanes in s["yosys_lanes"]:
            synth[lanes] = yosys.submit(synthesize, packages[lanes][1].file("verilog"), designs[lanes].name,
                                        timeout_s=yosys_timeout_s(s, lanes))
    packages = dict(sorted(packages.items()))
    stimuli = tuple(s["stimuli"])
    backend = s["ghdl_backend"] if s["ghdl_backend"] in installed_ghdl_backends() else None

    def independent_checks() -> list[tuple[str, list]]:
        """GHDL and Icarus on the subset, one simulator after the other: (simulator, its runs)."""
        done = []
        for simulator in SIMULATORS:
            with ExitStack() as stack:
                built = {lanes: (design, _built(ctx, stack, model, lanes, package, simulator, ghdl_backend=backend))
                         for lanes, (design, package) in packages.items()}
                done.append((simulator, run_vector_sets(built, subset.items(), work, stimuli)))
        return done

    with ThreadPoolExecutor(max_workers=1) as beside, ExitStack() as stack:
        independent = beside.submit(independent_checks)  # beside the Verilator builds and runs below
        built = {lanes: (design, _built(ctx, stack, model, lanes, package, "verilator"))
                 for lanes, (design, package) in packages.items()}
        on_stress = run_vector_sets(built, [("stress", stress)], work, stimuli)
        runs = run_vector_sets(built, ((name, expected(dataset.profiles)) for name, dataset in test_sets.items()
                                       if dataset.config.bits == in_bits), work, stimuli)
        for simulator, done in independent.result():
            for one in done:
                check.record(model, f"{'vhdl' if simulator == 'ghdl' else 'verilog'}-{one.verdict.simulator}-"
                             f"{Path(one.stimulus).stem}", one.lanes, one.profiles, [one.verdict], one.expected)
    for one in on_stress:
        check.record(model, f"verilog-verilator-{Path(one.stimulus).stem}", one.lanes, one.profiles, [one.verdict],
                     one.expected)
    for one in runs:
        if not one.passed:
            ctx.log.info("hdl %s P=%d %s %s: compared %d of %d, mismatches %d", model, one.lanes, one.name,
                         one.stimulus, one.verdict.compared, one.expected, one.verdict.mismatches)
    for lanes in packages:
        for stimulus in stimuli:
            mine = [one for one in runs if (one.lanes, one.stimulus) == (lanes, stimulus)]
            check.record(model, f"verilog-verilator-testsets-{Path(stimulus).stem}", lanes,
                         sum(one.profiles for one in mine), [one.verdict for one in mine],
                         sum(one.expected for one in mine))
    return packages, synth, stress


def _synthesized(ctx: StageContext, model: str, jobs: dict[int, Future], design: Callable[[int], Any],
                 lanes: list[int]) -> dict[int, Any]:
    """Yosys results at `lanes`: the verification's jobs joined (the wait logged as a step), the other lane
    counts' `design(lanes)` synthesised here."""
    from workbench.hdl.hardware import synthesize_design

    s = ctx.settings
    results = {p: synthesize_design(design(p), timeout_s=yosys_timeout_s(s, p)) for p in lanes if p not in jobs}
    with _step(ctx, f"wait for yosys {model}"):
        results.update({p: jobs[p].result() for p in lanes if p in jobs})
    return results


def _classical(ctx: StageContext, test_sets: dict[str, Any], work: Path, yosys: ThreadPoolExecutor,
               check: _Verification) -> list[dict]:
    """The classical detector in hardware (`workbench.hw.br_top`, at `verify_lanes`), its threshold tuned on the
    VALIDATION set (`br8_integer.tune`), verified like a network against `br8_integer` and synthesised;
    its settings in `hdl/<name>.json`; returns its hardware rows."""
    import json

    from workbench.data.datasets import load_stage_splits
    from workbench.hdl.table import yosys_row
    from workbench.hdl.vivado import DEFAULT_PART
    from workbench.qnn.br8_integer import NAME, BRInteger, tune
    from workbench.verify.br_check import br_design, br_vectors

    s = ctx.settings
    config = tune(BRInteger(), load_stage_splits(ctx.dep("datasets")).val)
    (ctx.out / "hdl" / f"{NAME}.json").write_text(json.dumps(
        {"taps": list(config.refinement.taps), "frac_bits": config.frac_bits, "score": config.score,
         "threshold": config.threshold, "input_bits": config.input_bits}, indent=1) + "\n")
    designs = {lanes: br_design(config, s["length"], s["pipeline_stages"], lanes) for lanes in s["verify_lanes"]}
    packages, jobs, stress = _verify_model(ctx, NAME, designs, partial(br_vectors, config), config.input_bits, None,
                                           test_sets, work, yosys, check)
    synthesized = _synthesized(ctx, NAME, jobs, partial(br_design, config, s["length"], s["pipeline_stages"]),
                               s["yosys_lanes"])
    _verify_netlists(ctx, NAME, packages, synthesized, stress, work, check)
    rows = [yosys_row(NAME, None, lanes, result, DEFAULT_PART) for lanes, result in sorted(synthesized.items())]
    for row in rows:
        row.update(pipeline_stages=s["pipeline_stages"], arithmetic="trees")
    return rows


def _hybrids(ctx: StageContext, models: list[str], test_sets: dict[str, Any], work: Path, yosys: ThreadPoolExecutor,
             check: _Verification) -> list[dict]:
    """The hybrids stage's `qnn-int/2` document of each verified network (`models/<network>.hybrid.json`, the run
    seed's), its hardware (`workbench.hdl.network.document_design`) verified like a network against
    `golden_v2` at `hybrid_lanes` (quick: one lane, to keep the quick budget) and synthesised at those of them in
    `yosys_lanes`, its netlists simulated at `postsynth_lanes`;
    returns its hardware rows, model `<network>.hybrid`."""
    from workbench.hdl.network import document_design
    from workbench.hdl.table import yosys_row
    from workbench.hdl.vivado import DEFAULT_PART
    from workbench.qnn.contract_v2 import load_document
    from workbench.verify.document_check import document_vectors

    s, rows = ctx.settings, []
    for path in (ctx.dep("hybrids") / "models" / f"{model}{HYBRID_SUFFIX}" for model in models):
        if not path.is_file():
            ctx.log.info("hdl: no hybrid document %s", path.name)
            continue
        name, document = path.name[:-len(".json")], load_document(path)
        design = partial(document_design, document, profile_length=s["length"], pipeline_stages=s["pipeline_stages"])
        packages, jobs, stress = _verify_model(ctx, name, {lanes: design(lanes) for lanes in s["hybrid_lanes"]},
                                               partial(document_vectors, document), document.network.input_bits,
                                               document.document, test_sets, work, yosys, check)
        synthesized = _synthesized(ctx, name, jobs, design, [p for p in s["hybrid_lanes"] if p in s["yosys_lanes"]])
        _verify_netlists(ctx, name, packages, synthesized, stress, work, check)
        rows += [yosys_row(name, document.network, lanes, result, DEFAULT_PART) | {
                 "pipeline_stages": s["pipeline_stages"], "arithmetic": "trees"}
                 for lanes, result in sorted(synthesized.items())]
    return rows


def _verify_netlists(ctx: StageContext, model: str, packages: dict, synthesized: dict, stress, work: Path,
                     check: _Verification) -> None:
    """Simulate the counted Yosys netlists at `postsynth_lanes` on the first `postsynth_profiles` stress profiles."""
    from workbench.verify.postsynth import POSTSYNTH
    from workbench.verify.vector_sets import run_vector_sets

    s = ctx.settings
    with ExitStack() as stack:
        built = {lanes: (packages[lanes][0], _built(ctx, stack, model, lanes, packages[lanes][1], POSTSYNTH,
                                                    netlist=synthesized[lanes].netlist))
                 for lanes in s["postsynth_lanes"] if lanes in synthesized}
        for one in run_vector_sets(built, [("postsynth", _first(stress, s["postsynth_profiles"]))], work,
                                   tuple(s["stimuli"])):
            check.record(model, f"verilog-{POSTSYNTH}-{Path(one.stimulus).stem}", one.lanes, one.profiles,
                         [one.verdict], one.expected)


def run(ctx: StageContext) -> None:
    """Generate, verify and estimate (see the module docstring)."""
    from workbench.evaluation.tables import BITEXACT_COLUMNS, write_csv
    from workbench.hdl.figure import plot_hardware
    from workbench.hdl.fit import COLUMNS as PARTS_COLUMNS, parts_markdown, parts_rows
    from workbench.hdl.hardware import rows_from_synthesis
    from workbench.hdl.network import network_design
    from workbench.hdl.table import write_rows
    from workbench.qnn.contract import load_network
    from workbench.verify.simulators import HdlVerificationError
    from workbench.verify.vectors import golden_vectors

    s = ctx.settings
    test_sets = _test_sets(ctx, s["test_profiles"], s["length"])
    check, hardware = _Verification(ctx), []
    with tempfile.TemporaryDirectory(prefix="hdl-stage-") as tmp, ThreadPoolExecutor(max_workers=2) as yosys:
        networks = trained_models(ctx.dep("training") / "models", s["models"], s["prefer"])
        for model_path in networks:
            model, network = model_path.stem, load_network(model_path)
            designs = {lanes: network_design(network, lanes, s["length"], s["pipeline_stages"])
                       for lanes in s["verify_lanes"]}
            packages, jobs, stress = _verify_model(ctx, model, designs, partial(golden_vectors, network),
                                                   network.input_bits, network.document, test_sets, Path(tmp),
                                                   yosys, check)
            synthesized = _synthesized(ctx, model, jobs, lambda lanes: network_design(
                network, lanes, s["length"], s["pipeline_stages"]), s["yosys_lanes"])
            with _step(ctx, f"addition postsynth {model}"):  # the other issues' additions are budgeted apart
                _verify_netlists(ctx, model, packages, synthesized, stress, Path(tmp), check)
            hardware += rows_from_synthesis(model, network, synthesized, scaled_lanes=tuple(s["scaled_lanes"]),
                                            analytic_lanes=tuple(s["analytic_lanes"]),
                                            pipeline_stages=s["pipeline_stages"])
        if s["hybrids"]:
            with _step(ctx, "addition hybrids"):
                hardware += _hybrids(ctx, [path.stem for path in networks], test_sets, Path(tmp), yosys, check)
        if s["classical"]:
            with _step(ctx, "addition classical"):
                hardware += _classical(ctx, test_sets, Path(tmp), yosys, check)
    tables = ctx.out / "tables"
    write_csv(check.rows, tables / "bitexact_hdl.csv", BITEXACT_COLUMNS)
    write_rows(tables / "hardware.csv", hardware)
    write_csv(parts_rows(hardware), tables / "parts.csv", PARTS_COLUMNS)
    plot_hardware(hardware, ctx.out / "figures" / "hardware_lanes.png")
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "hardware.md").write_text(summary(hardware) + "\n" + parts_markdown(hardware))
    if check.failures:
        raise HdlVerificationError(f"HDL testbenches failed: {', '.join(check.failures)}")


STAGE = Stage(
    name="hdl",
    run=run,
    depends=("datasets", "training", "hybrids"),
    description="VHDL/Verilog, Verilator bit-exactness on every test profile (GHDL/Icarus on a subset), Yosys estimates",
    settings=SETTINGS,
)

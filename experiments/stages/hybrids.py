"""run_all stage `hybrids`: the HYBRID detector of every QAT network of the main sweep, at every training seed.

A hybrid (`workbench.qnn.detector.hybrid_detector`, `docs/heads.md`) keeps its network's score, threshold and
first arg-max (so its detections and misses are the network's) and locates with the width-adaptive integer
refinement on the raw profile around that arg-max. The refinement is learned per network and training seed
on the training stage's training profiles (the networks' own, `train_profiles` of its settings) around that
network's arg-max (`workbench.qnn.adaptive`); nothing is tuned on the test sets. Every document of the training
stage's `models/` (the run seed) and `models/seed_<seed>/` (study mode's other seeds) is used; the
ablation's documents (`models/ablation/`) are not. Each hybrid runs on the golden model over the test
conditions of the networks' input depth, paired with BR8 tuned as the classical stage tunes it, and its rows
are made as the networks' are (`workbench.pipeline.study.seed_tables`: one row per seed and one pooled over
the seeds; with one seed the pooled row is that seed's). Outputs:

- `tables/accuracy_hybrid.csv` (method `hybrid_adaptive`, the network's bits; a network of another family,
  `metadata.family` in its document, gives `hybrid_adaptive_<family>`, `workbench.pipeline.families`),
  `tables/s_curve_hybrid.csv`, and with several seeds `tables/seeds_hybrid.csv`: the report merges them with
  every stage's tables;
- `tables/hybrid_refinements.csv`: the learned refinement per network and seed (edges, members);
- `models/<network>.hybrid.json` (run seed) and `models/seed_<seed>/<network>.hybrid.json`: each hybrid as a
  `qnn-int/2` document (the network's document with the learned refinement in its head,
  `workbench.qnn.contract_v2`); the stage evaluates the hybrid read back from that document, so the file is
  what was measured (`workbench detect --detector` and `workbench evaluate --models` run it);
- `report/hybrids.md`: the paired ratios of the network-only and hybrid heads (the report judges issue 12's
  hybrid goal, `workbench.evaluation.goals`, among its verdicts).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.stages.training import SETTINGS as TRAINING_SETTINGS
from workbench.data.datasets import Dataset, load_stage_splits
from workbench.data.signals import SWEEP_CONDITIONS
from workbench.detectors import classical
from workbench.errors import ConfigError
from workbench.evaluation import tables
from workbench.evaluation.comparison import DEFAULT_REFERENCE
from workbench.evaluation.goals import HYBRID_METHOD, NETWORK_METHOD
from workbench.evaluation.markdown import pivot_markdown, ratio_cell
from workbench.evaluation.metrics import BOOTSTRAP_DRAWS
from workbench.pipeline.families import DEFAULT_FAMILY, families_among, in_family
from workbench.pipeline.stages import Stage, StageContext
from workbench.pipeline.study import DETECTIONS, SEED_COLUMNS, cap, seed_tables
from workbench.qnn.adaptive import learn_network_refinement, refinement_record
from workbench.qnn.artifacts import documents
from workbench.qnn.contract import Document
from workbench.qnn.contract_v2 import hybrid_document, load_document
from workbench.qnn.detector import hybrid_detector

SEED_FOLDER = "seed_"
HYBRID_SUFFIX = ".hybrid.json"
REFINEMENT_COLUMNS = ("network", "bits", "seed", "method", "train_lines", "edges", "members")


@dataclass(frozen=True)
class HybridTables:
    """The hybrids' accuracy rows per seed and pooled over seeds, S-curve rows, learned refinements and the
    hybrids' `qnn-int/2` documents (in the order of the networks)."""

    seed_rows: list[dict]
    pooled: list[dict]
    curves: list[dict]
    refinements: list[dict]
    documents: list[Document]


def network_documents(models: Path, run_seed: int) -> list[tuple[int, Path]]:
    """`(training seed, document)` of every qnn-int document in `models/` (the run seed) and in its
    `seed_<seed>/` folders, seeds ascending, each seed's documents in name order."""
    found = [(run_seed, path) for path in documents(models)]
    for folder in (p for p in models.iterdir() if p.is_dir() and p.name.startswith(SEED_FOLDER)):
        seed = folder.name[len(SEED_FOLDER):]
        if not seed.isdigit():
            raise ConfigError(f"models folder {folder} invalid; allowed {SEED_FOLDER}<integer seed>")
        found += [(int(seed), path) for path in documents(folder)]
    return sorted(found, key=lambda entry: (entry[0], entry[1].name))


def document_bits(document: dict, path: Path) -> str:
    """The `metadata.bits` label (`4/4`) the training stage wrote into `document`, read from `path`."""
    bits = document.get("metadata", {}).get("bits")
    if not isinstance(bits, str):
        raise ConfigError(f"document {path} has no metadata.bits; allowed documents exported by the training stage")
    return bits


def hybrid_tables(networks: list[tuple[int, Path]], train: Dataset, tests: dict[str, Dataset],
                  sticks: dict[str, tables.Yardstick], seed: int, draws: int, work: Path) -> HybridTables:
    """Learn each network's refinement on `train`, record its hybrid's detections on `tests` under `work`
    (the layout `seed_tables` reads) and make the rows as the study makes the networks' rows."""
    results, refinements, hybrids = [], [], []
    lines = int(np.count_nonzero(~np.asarray(train.truth["empty"], dtype=bool)))
    for training_seed, path in networks:
        source = json.loads(path.read_text())
        bits = document_bits(source, path)
        method = in_family(HYBRID_METHOD, source["metadata"].get("family", DEFAULT_FAMILY))
        refinement = learn_network_refinement(load_document(source).network, train)
        hybrids.append(hybrid_document(source, refinement))
        hybrid = load_document(hybrids[-1])  # the hybrid as its document states it
        detector = hybrid_detector(method, hybrid.network, hybrid.refinement, bits)
        arrays = {}
        for condition, dataset in tests.items():
            arrays[f"{condition}.found"], arrays[f"{condition}.pos"] = detector.detect(dataset.profiles)
        key = f"{path.stem}_seed{training_seed}"
        (work / key / DETECTIONS).mkdir(parents=True)
        np.savez(work / key / DETECTIONS / f"{method}.npz", **arrays)
        results.append({"seed": training_seed, "key": key, "methods": [{"method": method, "bits": bits}]})
        refinements.append({"network": path.stem, "bits": bits, "seed": training_seed, "method": method,
                            "train_lines": lines, **refinement_record(refinement)})
    seed_rows, pooled, curves = seed_tables(results, work, tests, sticks, seed, draws, (tables.S_CURVE_CONDITION,))
    return HybridTables(seed_rows, pooled, curves, refinements, hybrids)


def hybrid_path(models: Path, network: Path) -> Path:
    """Where a network's hybrid document goes, relative to the models folder: `<network>.hybrid.json` beside
    the network's place (`seed_<seed>/` for study mode's other seeds)."""
    return network.relative_to(models).with_name(network.stem + HYBRID_SUFFIX)


def report_markdown(hybrid_rows: list[dict], network_rows: list[dict], seeds: list[int], train_lines: int) -> str:
    """The report's section on the hybrids: the paired ratios, network-only against hybrid, of every family
    (the issue-12 goals are in the report's verdicts)."""
    families = [DEFAULT_FAMILY, *families_among((r["method"] for r in hybrid_rows), HYBRID_METHOD)]
    networks = {in_family(NETWORK_METHOD, family) for family in families}
    rows = hybrid_rows + [r for r in network_rows if r["method"] in networks]
    order = list(dict.fromkeys(r["bits"] for r in hybrid_rows))
    paired = sorted((r for r in rows if r["bits"] in order), key=lambda r: (order.index(r["bits"]), r["method"]))
    conditions = [c for c in SWEEP_CONDITIONS if any(r["condition"] == c for r in hybrid_rows)]
    others = [c for c in dict.fromkeys(r["condition"] for r in hybrid_rows) if c not in conditions]
    reference = next((r["reference"] for r in hybrid_rows if r.get("reference")), "the reference")
    return "\n".join([
        "## Hybrid detectors (issue 12)", "",
        f"`{HYBRID_METHOD}` is a HYBRID, not a network-only head: the network detects and gates (its score, its "
        "document's threshold, its first arg-max), a width-adaptive integer refinement on the raw profile around "
        f"that arg-max locates (`docs/heads.md`). The refinement was learned per network and training seed on "
        f"{train_lines} training line profiles (`tables/hybrid_refinements.csv`); no test set was used to choose "
        f"or tune it. Training seeds {', '.join(map(str, seeds))}; rows pooled over them as the networks' rows are "
        "(`tables/accuracy_hybrid.csv`; per seed: `tables/seeds_hybrid.csv` when there are several). A network "
        f"family other than the paper-faithful default has its own methods (`{in_family(NETWORK_METHOD, '<family>')}`, "
        f"`{in_family(HYBRID_METHOD, '<family>')}`; `docs/training.md`, section 10).", "",
        "The goal of issue 12 for the hybrid 4/4 of each family is judged in the section Verdicts (its line starts "
        "with HYBRID).", "",
        f"### RMSE ratio to {reference} on the lines both find, network-only (`{NETWORK_METHOD}`) and hybrid "
        "(paired bootstrap 95% interval)", "",
        pivot_markdown(paired, conditions + others, ratio_cell),
    ])


def run(ctx: StageContext) -> None:
    s = TRAINING_SETTINGS[ctx.config.mode]  # the networks' own training subset and test sets
    splits = load_stage_splits(ctx.dep("datasets"))
    train = cap(splits.train, s["train_profiles"])
    reference, _ = classical.tune(DEFAULT_REFERENCE, splits.val)  # as the classical stage tunes it
    tests = {name: cap(ds, s["test_profiles"]) for name, ds in splits.test.items()
             if ds.config.bits == train.config.bits}  # the networks' input depth, as in the training stage
    sticks = {name: tables.yardstick(ds, reference) for name, ds in tests.items()}
    models = ctx.dep("training") / "models"
    networks = network_documents(models, ctx.config.seed)
    seeds = sorted({seed for seed, _ in networks})
    ctx.log.info("  %d hybrids (%d networks x seeds %s) on %d test conditions", len(networks),
                 len(networks) // len(seeds), seeds, len(tests))
    with tempfile.TemporaryDirectory() as work:
        result = hybrid_tables(networks, train, tests, sticks, ctx.config.seed, s.get("draws", BOOTSTRAP_DRAWS),
                               Path(work))
    for (_, path), document in zip(networks, result.documents):
        target = ctx.out / "models" / hybrid_path(models, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=1) + "\n")
    table_dir = ctx.out / "tables"
    tables.write_csv(result.pooled, table_dir / "accuracy_hybrid.csv")
    tables.write_csv(result.curves, table_dir / "s_curve_hybrid.csv", tables.S_CURVE_COLUMNS)
    tables.write_csv(result.refinements, table_dir / "hybrid_refinements.csv", REFINEMENT_COLUMNS)
    if len(seeds) > 1:
        tables.write_csv(result.seed_rows, table_dir / "seeds_hybrid.csv", SEED_COLUMNS)
    network_table = ctx.dep("training") / "tables" / "accuracy_nn.csv"
    network_rows = tables.read_csv(network_table) if network_table.is_file() else []
    (ctx.out / "report").mkdir(exist_ok=True)
    (ctx.out / "report" / "hybrids.md").write_text(report_markdown(
        tables.read_csv(table_dir / "accuracy_hybrid.csv"), network_rows, seeds, result.refinements[0]["train_lines"]))


STAGE = Stage(
    name="hybrids",
    run=run,
    depends=("datasets", "training"),
    description="HYBRID detectors: every QAT network gates, its adaptive refinement (learned on training data) locates",
)

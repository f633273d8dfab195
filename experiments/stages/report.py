"""Stage `report`: merge every stage's tables and render REPORT.md with verdicts, tables and figures.

It runs last and sees every stage of the run. Merges `tables/accuracy_*.csv` into
`tables/accuracy.csv`, `tables/s_curve_*.csv` into `tables/s_curve.csv` and `tables/bitexact*.csv`
into `tables/bitexact.csv`, draws the comparison figures from the merged tables, judges the goals
of the study (`workbench.evaluation.goals`) and includes every stage's `report/*.md` fragment. A stage joins
the report by writing such files. When the rows hold another network family (`workbench.pipeline.families`),
two more figures set its 4/4 networks and hybrids beside the default's and the reference against SNR
(`figures/families_miss_rate_vs_snr.png`, `figures/families_rmse_ratio_vs_snr.png`).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from workbench.detectors import classical
from workbench.evaluation.tables import (ACCURACY_COLUMNS, BITEXACT_COLUMNS, S_CURVE_COLUMNS, S_CURVE_CONDITION, merge_csv,
                                  read_csv)
from workbench.evaluation.goals import HYBRID_METHOD, NETWORK_METHOD, Verdict, all_verdicts
from workbench.evaluation.markdown import interval_cell, number_cell, pivot_markdown, ratio_cell
from workbench.pipeline.families import DEFAULT_FAMILY, families_among, in_family
from workbench.pipeline.stages import Stage, StageContext
from workbench.evaluation.plots import plot_metric_vs_snr, plot_s_curves
from workbench.data.signals import CLEAN_CONDITIONS, SWEEP_CONDITIONS


def _files(ctx: StageContext, pattern: str) -> list[Path]:
    return [path for folder in ctx.deps.values() for path in sorted(folder.glob(pattern))]


def _rmse_cell(row: dict) -> str:
    return interval_cell(row["rmse_px"], row["rmse_ci_low"], row["rmse_ci_high"])


def _total_error_cell(row: dict) -> str:
    return (f"{number_cell(row.get('total_error'))} (x{number_cell(row.get('total_error_ratio'))} "
            f"[{number_cell(row.get('total_error_ratio_ci_low'))}, {number_cell(row.get('total_error_ratio_ci_high'))}])")


def yardstick_section(rows: list[dict]) -> str:
    """Markdown for the yardstick columns: efficiency, the paired ratio against the reference, total error."""
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    sweep = [c for c in SWEEP_CONDITIONS if c in conditions]
    others = [c for c in conditions if c not in sweep]
    reference = next((r["reference"] for r in rows if r.get("reference")), "the reference")
    bounds = [f"{c}: {number_cell(r['crlb_px'])}" for c in sweep
              for r in [next((r for r in rows if r["condition"] == c and r["method"] == reference), None)] if r]
    return "\n".join([
        "## Against the yardstick", "",
        "Efficiency is RMSE / `crlb_px`, `crlb_px` the square root of the mean Cramér–Rao bound of the centre "
        "(other parameters known) over the lines that row's RMSE uses, under the generator's noise model with "
        "clipped pixels as censored data (`docs/yardstick.md`). 1 is the best an unbiased estimator can do; "
        "RMSE counts only errors within 1 px, so values below 1 at SNR 4 and below are truncation: judge at "
        "SNR >= 8. On `speckle` the bound is optimistic (speckle is not in the noise model); the asymmetric "
        "and top-hat lines and fixed-pattern noise are outside its model: no bound there (`-`). The networks "
        "take 8-bit input and have no rows on the 10- and 12-bit conditions, where the classical methods' "
        "thresholds come from those conditions' own validation sets. "
        f"Bound over {reference}'s lines (px): {'; '.join(bounds) or '-'}. Clean presets (no reflections, no "
        f"speckle, no saturation in the model): {', '.join(CLEAN_CONDITIONS)}.", "",
        "### Efficiency (RMSE / Cramér–Rao bound) against SNR", "",
        pivot_markdown(rows, sweep, lambda r: number_cell(r.get("efficiency"))),
        "### Efficiency in the other conditions", "", pivot_markdown(rows, others, lambda r: number_cell(r.get("efficiency"))),
        f"### RMSE ratio to {reference} on the lines both find within 1 px (paired bootstrap 95% interval)", "",
        pivot_markdown(rows, sweep + others, ratio_cell),
        f"### Total error `mean(min(err^2, 1))`, a missed line counted as 1 (px^2), and its ratio to {reference}",
        "", pivot_markdown(rows, sweep + others, _total_error_cell),
    ])


def accuracy_section(rows: list[dict]) -> str:
    """Markdown for the merged accuracy table: SNR sweep, other conditions, detection rates."""
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    sweep = [c for c in SWEEP_CONDITIONS if c in conditions]
    others = [c for c in conditions if c not in sweep]
    return "\n".join([
        "## Accuracy", "",
        "Every threshold gives 1% false alarms on empty validation profiles; windows are chosen on "
        "validation data. RMSE and bias are over detections within 1 px of the true centre; the "
        "brackets are 95% bootstrap intervals. Full numbers: `tables/accuracy.csv`.", "",
        "### Sub-pixel RMSE (px) against SNR", "", pivot_markdown(rows, sweep, _rmse_cell),
        "### Gross-error rate (|error| > 1 px) against SNR", "",
        pivot_markdown(rows, sweep, lambda r: number_cell(r["gross_error_rate"])),
        "### Miss rate against SNR", "", pivot_markdown(rows, sweep, lambda r: number_cell(r["miss_rate"])),
        "### Sub-pixel RMSE (px) in the other conditions", "", pivot_markdown(rows, others, _rmse_cell),
        "### Gross-error rate in the other conditions", "",
        pivot_markdown(rows, others, lambda r: number_cell(r["gross_error_rate"])),
        "### False-alarm rate on the empty test profiles", "",
        pivot_markdown(rows, conditions, lambda r: number_cell(r["false_alarm_rate"])),
    ])


def setup_section(ctx: StageContext) -> str:
    """Mode, seed and the time each stage took (or that it came from the cache)."""
    lines = ["## Setup", "", f"Mode `{ctx.config.mode}`, seed {ctx.config.seed}. Stage outputs are cached by "
             "their settings, code and inputs; the time is that of the run that computed them.", "",
             "| stage | cache key | seconds |", "|---|---|---|"]
    for name, folder in ctx.deps.items():
        record = json.loads((folder / "stage.json").read_text())
        lines.append(f"| {name} | `{record['key']}` | {record['seconds']} |")
    return "\n".join(lines) + "\n"


LOCKBOX_LOG = "lockbox_uses.log"  # beside the stage cache: one line per report made from lockbox test sets


def seeds_section(ctx: StageContext) -> str:
    """Which seeds made the test sets every accuracy table comes from; each use of the lockbox logged."""
    if "datasets" not in ctx.deps:
        return ""
    index = json.loads((ctx.deps["datasets"] / "datasets.json").read_text())
    split = index.get("test_split", "test")
    lines = ["## Test data", "",
             f"Every accuracy table comes from the test sets below: seeds of the **{split}** namespace "
             f"({'the LOCKBOX, for final studies only' if split == 'lockbox' else 'development; the lockbox is unused'}), "
             f"derived from base seed {ctx.config.seed}. Validation sets (training: seed {index['val']['seed']}; "
             f"one per condition: {len(index.get('val_conditions', {}))}) come from seeds disjoint from them.", "",
             "| condition | test seed | profiles |", "|---|---|---|"]
    lines += [f"| {name} | {entry['seed']} | {entry['n']} |" for name, entry in index["test"].items()]
    if split == "lockbox":
        log_path = ctx.cache_root.parent / LOCKBOX_LOG
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a") as handle:
            handle.write(f"{stamp} mode={ctx.config.mode} base_seed={ctx.config.seed} "
                         f"datasets_key={json.loads((ctx.deps['datasets'] / 'stage.json').read_text())['key']}\n")
        lines += ["", f"Uses of the lockbox so far (`{log_path}`):", "", "```", log_path.read_text().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def verdict_section(verdicts: list[Verdict], mode: str) -> str:
    """One line per goal of the study."""
    caveat = {"quick": " Quick-mode networks are trained briefly: judge the paper's claims on `--study` or `--full`.",
              "study": " Every network row pools 3 training seeds: its intervals are paired bootstraps over seeds, "
                       "then profiles (section Training seeds). The study trains on fewer profiles and epochs than "
                       "`--full`, which costs the float network most: judge the goals against float on `--full` "
                       "(docs/training.md, section 10)."}.get(mode, "")
    lines = ["## Verdicts", "", "A goal is met only when the 95% bootstrap intervals say so; *undecided* "
             f"means they overlap.{caveat}", "", "| goal | verdict | evidence |", "|---|---|---|"]
    lines += [f"| {v.goal} | **{v.status}** | {v.evidence} |" for v in verdicts]
    return "\n".join(lines) + "\n"


def bitexact_section(rows: list[dict]) -> str:
    """Every comparison with the golden model, merged from all stages."""
    lines = ["## Bit-exactness against the golden model", "",
             "| model | comparison | lanes | profiles | values compared | mismatches |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['stage']} | {number_cell(r.get('lanes'))} | {r['profiles']} | {r['compared']} | "
              f"{r['mismatches']} |" for r in rows]
    return "\n".join(lines) + "\n"


def family_rows(rows: list[dict], bits: str = "4/4") -> list[dict]:
    """The `bits` rows of every network family's networks and hybrids, and the reference's rows; none when the
    rows hold the default family only."""
    families = families_among((r["method"] for r in rows), NETWORK_METHOD)
    if not families:
        return []
    methods = {in_family(m, f) for m in (NETWORK_METHOD, HYBRID_METHOD) for f in (DEFAULT_FAMILY, *families)}
    reference = next((r["reference"] for r in rows if r.get("reference")), None)
    return [r for r in rows if (r["method"] in methods and r.get("bits") == bits) or r["method"] == reference]


MERGED = ("accuracy", "s_curve", "bitexact")
MAX_TABLE_ROWS = 60


def csv_markdown(path: Path) -> str:
    """A CSV file as a markdown table (the first MAX_TABLE_ROWS rows)."""
    rows = read_csv(path)
    if not rows:
        return f"### `tables/{path.name}`\n\n(empty)\n"
    columns = list(rows[0])
    lines = [f"### `tables/{path.name}`", "", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(number_cell(row[c], 4) for c in columns) + " |" for row in rows[:MAX_TABLE_ROWS]]
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"\n(first {MAX_TABLE_ROWS} of {len(rows)} rows; all of them in the CSV)")
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> None:
    tables, figures = ctx.out / "tables", ctx.out / "figures"
    rows = merge_csv(_files(ctx, "tables/accuracy_*.csv"), tables / "accuracy.csv", ACCURACY_COLUMNS)
    bitexact = merge_csv(_files(ctx, "tables/bitexact*.csv"), tables / "bitexact.csv", BITEXACT_COLUMNS)
    # the networks' rows: the hardware goals are the networks' (the classical detector's rows, without
    # weight bits, and the hybrids', model `<network>.hybrid`, are in the hardware tables and report/hardware.md)
    hardware = [row for path in _files(ctx, "tables/hardware.csv") for row in read_csv(path)
                if row.get("weight_bits") is not None and not str(row["model"]).endswith(".hybrid")]
    curves = merge_csv(_files(ctx, "tables/s_curve_*.csv"), tables / "s_curve.csv", S_CURVE_COLUMNS)
    made = [
        plot_metric_vs_snr(rows, "rmse_px", figures / "rmse_vs_snr.png", "sub-pixel RMSE (px)",
                           "Sub-pixel RMSE against SNR (95% bootstrap intervals)", ci=("rmse_ci_low", "rmse_ci_high"),
                           bound="crlb_px"),
        plot_metric_vs_snr(rows, "efficiency", figures / "efficiency_vs_snr.png", "RMSE / Cramér–Rao bound",
                           "Efficiency against SNR (known-parameters bound)", level=(1.0, "the bound")),
        plot_metric_vs_snr(rows, "rmse_ratio", figures / "rmse_ratio_vs_snr.png", "RMSE ratio on common lines",
                           "RMSE relative to the reference on the lines both find (paired 95% intervals)",
                           ci=("rmse_ratio_ci_low", "rmse_ratio_ci_high"), level=(1.0, "reference")),
        plot_metric_vs_snr(rows, "total_error", figures / "total_error_vs_snr.png", "mean(min(err^2, 1)) (px^2)",
                           "Total error, missed lines counted as 1, against SNR"),
        plot_metric_vs_snr(rows, "gross_error_rate", figures / "gross_error_vs_snr.png",
                           "gross-error rate (|error| > 1 px)", "Gross errors against SNR"),
        plot_metric_vs_snr(rows, "miss_rate", figures / "miss_rate_vs_snr.png", "miss rate",
                           "Missed lines against SNR (1% false alarms)"),
        plot_s_curves([c for c in curves if c["condition"] == S_CURVE_CONDITION], figures / "s_curve.png",
                      f"Bias against sub-pixel phase ({S_CURVE_CONDITION})"),
    ]
    families = family_rows(rows)
    if families:
        made += [
            plot_metric_vs_snr(families, "miss_rate", figures / "families_miss_rate_vs_snr.png", "miss rate",
                               "Missed lines against SNR: the 4/4 of each network family and the reference"),
            plot_metric_vs_snr(families, "rmse_ratio", figures / "families_rmse_ratio_vs_snr.png",
                               "RMSE ratio on common lines", "The 4/4 of each network family against the reference "
                               "on the lines both find (paired 95% intervals)",
                               ci=("rmse_ratio_ci_low", "rmse_ratio_ci_high"), level=(1.0, "reference")),
        ]
    drawn = {path.name for path in made if path}
    dep_figures = [path for path in _files(ctx, "figures/*.png") if path.name not in drawn]
    parts = [f"# qpeak-workbench results ({ctx.config.mode} mode, seed {ctx.config.seed})", "",
             setup_section(ctx), seeds_section(ctx),
             verdict_section(all_verdicts(rows, bitexact, hardware, classical.METHODS), ctx.config.mode)]
    if rows:
        parts += [accuracy_section(rows), yardstick_section(rows)]
    if bitexact:
        parts.append(bitexact_section(bitexact))
    parts += ["## Figures", ""]
    parts += [f"![{path.stem}](figures/{path.name})\n" for path in [p for p in made if p] + dep_figures]
    parts += [path.read_text() for path in _files(ctx, "report/*.md")]
    others = [path for path in _files(ctx, "tables/*.csv") if not path.stem.startswith(MERGED)]
    if others:
        parts += ["## Other tables", ""] + [csv_markdown(path) for path in others]
    (ctx.out / "REPORT.md").write_text("\n".join(parts))


STAGE = Stage(
    name="report",
    run=run,
    always=True,
    sees_all=True,
    description="merge tables, draw figures, write REPORT.md",
)

"""Stage `report`: merge every dependency's tables and render REPORT.md with tables and figures.

Merges `tables/accuracy_*.csv` of all dependency folders into `tables/accuracy.csv` and
`tables/s_curve_*.csv` into `tables/s_curve.csv`, draws the comparison figures from the merged
tables, and includes every dependency's `report/*.md` fragment. Later stages join the report by
being added to `depends` and writing those files.
"""
from __future__ import annotations

import math
from pathlib import Path

from workbench.evaluation import ACCURACY_COLUMNS, S_CURVE_COLUMNS, S_CURVE_CONDITION, merge_csv
from workbench.pipeline import Stage, StageContext
from workbench.plots import method_label, plot_metric_vs_snr, plot_s_curves
from workbench.signals import SWEEP_CONDITIONS


def _files(ctx: StageContext, pattern: str) -> list[Path]:
    return [path for folder in ctx.deps.values() for path in sorted(folder.glob(pattern))]


def _cell(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def pivot_markdown(rows: list[dict], conditions: list[str], cell) -> str:
    """A markdown table: one line per method label, one column per condition, `cell(row)` inside."""
    labels = list(dict.fromkeys(method_label(r) for r in rows))
    lookup = {(method_label(r), r["condition"]): r for r in rows}
    lines = ["| method | " + " | ".join(conditions) + " |", "|---" * (len(conditions) + 1) + "|"]
    for label in labels:
        cells = [cell(lookup[label, c]) if (label, c) in lookup else "-" for c in conditions]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rmse_cell(row: dict) -> str:
    return f"{_cell(row['rmse_px'])} [{_cell(row['rmse_ci_low'])}, {_cell(row['rmse_ci_high'])}]"


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
        pivot_markdown(rows, sweep, lambda r: _cell(r["gross_error_rate"])),
        "### Miss rate against SNR", "", pivot_markdown(rows, sweep, lambda r: _cell(r["miss_rate"])),
        "### Sub-pixel RMSE (px) in the other conditions", "", pivot_markdown(rows, others, _rmse_cell),
        "### Gross-error rate in the other conditions", "",
        pivot_markdown(rows, others, lambda r: _cell(r["gross_error_rate"])),
        "### False-alarm rate on the empty test profiles", "",
        pivot_markdown(rows, conditions, lambda r: _cell(r["false_alarm_rate"])),
    ])


def run(ctx: StageContext) -> None:
    tables, figures = ctx.out / "tables", ctx.out / "figures"
    rows = merge_csv(_files(ctx, "tables/accuracy_*.csv"), tables / "accuracy.csv", ACCURACY_COLUMNS)
    curves = merge_csv(_files(ctx, "tables/s_curve_*.csv"), tables / "s_curve.csv", S_CURVE_COLUMNS)
    made = [
        plot_metric_vs_snr(rows, "rmse_px", figures / "rmse_vs_snr.png", "sub-pixel RMSE (px)",
                           "Sub-pixel RMSE against SNR (95% bootstrap intervals)", ci=("rmse_ci_low", "rmse_ci_high")),
        plot_metric_vs_snr(rows, "gross_error_rate", figures / "gross_error_vs_snr.png",
                           "gross-error rate (|error| > 1 px)", "Gross errors against SNR"),
        plot_metric_vs_snr(rows, "miss_rate", figures / "miss_rate_vs_snr.png", "miss rate",
                           "Missed lines against SNR (1% false alarms)"),
        plot_s_curves([c for c in curves if c["condition"] == S_CURVE_CONDITION], figures / "s_curve.png",
                      f"Bias against sub-pixel phase ({S_CURVE_CONDITION})"),
    ]
    dep_figures = _files(ctx, "figures/*.png")  # run_all copies them next to REPORT.md
    parts = [f"# qpeak-workbench results ({ctx.config.mode} mode, seed {ctx.config.seed})", ""]
    if rows:
        parts.append(accuracy_section(rows))
    parts += ["## Figures", ""]
    parts += [f"![{path.stem}](figures/{path.name})\n" for path in [p for p in made if p] + dep_figures]
    parts += [path.read_text() for path in _files(ctx, "report/*.md")]
    (ctx.out / "REPORT.md").write_text("\n".join(parts))


STAGE = Stage(
    name="report",
    run=run,
    depends=("classical",),
    code=("workbench.evaluation", "workbench.plots"),
    always=True,
    description="merge tables, draw figures, write REPORT.md",
)

"""Markdown tables of result rows for the reports (run_all's report and training stages)."""
from __future__ import annotations

import math
from typing import Any, Callable

from workbench.evaluation.plots import method_label


def pivot_markdown(rows: list[dict], conditions: list[str], cell: Callable[[dict], str]) -> str:
    """A markdown table: one line per method label, one column per condition, `cell(row)` inside."""
    labels = list(dict.fromkeys(method_label(r) for r in rows))
    lookup = {(method_label(r), r["condition"]): r for r in rows}
    lines = ["| method | " + " | ".join(conditions) + " |", "|---" * (len(conditions) + 1) + "|"]
    for label in labels:
        cells = [cell(lookup[label, c]) if (label, c) in lookup else "-" for c in conditions]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def number_cell(value: Any, digits: int = 3, fixed: bool = False) -> str:
    """A table cell: "-" when absent or NaN; a number (or a numeric string, as read from a CSV) with `digits`
    significant digits, or `digits` decimals when `fixed`; any other value as its text."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if fixed:
        return f"{float(value):.{digits}f}"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def interval_cell(value: Any, low: Any, high: Any, digits: int = 3, fixed: bool = False) -> str:
    """`value [low, high]` as `number_cell`s; the value alone when the interval is absent."""
    if low in (None, "") or high in (None, ""):
        return number_cell(value, digits, fixed)
    return f"{number_cell(value, digits, fixed)} [{number_cell(low, digits, fixed)}, {number_cell(high, digits, fixed)}]"


def ratio_cell(row: dict) -> str:
    """A row's paired RMSE ratio to the reference with its 95% interval, 3 decimals (goals are read against 1)."""
    return interval_cell(row.get("rmse_ratio"), row.get("rmse_ratio_ci_low"), row.get("rmse_ratio_ci_high"), fixed=True)

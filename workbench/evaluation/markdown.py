"""Markdown tables of result rows for the reports (run_all's report and training stages)."""
from __future__ import annotations

from typing import Callable

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

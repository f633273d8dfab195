"""Paper-style PNG figures (matplotlib, Agg), generic over methods: each method is a row label.

The functions take the rows of `workbench.evaluation.tables` (dicts with `method`, `bits`, `condition`,
`snr`, metric columns), so neural methods appear next to classical ones without code changes.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Iterator

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from workbench.data.signals import SWEEP_CONDITIONS

Row = dict[str, Any]
MARKERS = "osD^v<>pPX*h"
DPI = 150


def method_label(row: Row) -> str:
    """`method`, with `(N-bit)` when the row has a bit width."""
    bits = row.get("bits")
    return f"{row['method']} ({bits}-bit)" if bits not in (None, "") else str(row["method"])


def _styles(labels: list[str]) -> dict[str, dict[str, Any]]:
    colours = plt.get_cmap("tab20" if len(labels) > 10 else "tab10")
    return {label: {"color": colours(i % colours.N), "marker": MARKERS[i % len(MARKERS)]}
            for i, label in enumerate(labels)}


def _labels(rows: Iterable[Row]) -> list[str]:
    return list(dict.fromkeys(method_label(r) for r in rows))


def _finish(fig: plt.Figure, ax: plt.Axes, path: Path | str, title: str) -> Path:
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path | str) -> Path:
    """Write the figure as PNG (its folder created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _number(value: Any) -> float:
    return float(value) if value not in (None, "") else float("nan")


def _per_method(rows: list[Row], x_key: str) -> Iterator[tuple[str, dict, list[Row]]]:
    """(label, line style, rows sorted by `x_key`) for every method label, in first-seen order."""
    labels = _labels(rows)
    styles = _styles(labels)
    for label in labels:
        yield label, styles[label], sorted((r for r in rows if method_label(r) == label),
                                           key=lambda r: _number(r[x_key]))


def plot_metric_vs_snr(rows: list[Row], metric: str, path: Path | str, ylabel: str, title: str,
                       ci: tuple[str, str] | None = None, log_y: bool = True,
                       conditions: Iterable[str] = SWEEP_CONDITIONS, bound: str | None = None,
                       level: tuple[float, str] | None = None) -> Path | None:
    """One line per method over the SNR-sweep `conditions` (x: the rows' `snr`); None if no such row.

    `bound`: a column (e.g. `crlb_px`) whose median over the methods at each SNR is drawn as a black
    dashed line; `level`: (value, label) of a horizontal reference line (e.g. efficiency 1).
    """
    wanted = set(conditions)
    sweep = [r for r in rows if r["condition"] in wanted and not math.isnan(_number(r.get("snr")))]
    if not sweep:
        return None
    log_y = log_y and any(_number(r[metric]) > 0 for r in sweep)  # a log axis needs a positive value
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    for label, style, mine in _per_method(sweep, "snr"):
        snr = np.array([_number(r["snr"]) for r in mine])
        y = np.array([_number(r[metric]) for r in mine])
        if log_y:
            y = np.where(y > 0, y, np.nan)
        err = None
        if ci is not None:
            low = np.array([_number(r[ci[0]]) for r in mine])
            high = np.array([_number(r[ci[1]]) for r in mine])
            err = np.vstack([np.clip(y - low, 0, None), np.clip(high - y, 0, None)])
        ax.errorbar(snr, y, yerr=err, label=label, capsize=2, markersize=4, linewidth=1.2, **style)
    if bound is not None:
        by_snr: dict[float, list[float]] = {}
        for r in sweep:
            by_snr.setdefault(_number(r["snr"]), []).append(_number(r.get(bound)))
        xs = sorted(by_snr)
        ax.plot(xs, [np.nanmedian(by_snr[x]) if not np.isnan(by_snr[x]).all() else np.nan for x in xs],
                color="black", linestyle="--", linewidth=1.5, label="Cramér–Rao bound (known parameters)")
    if level is not None:
        ax.axhline(level[0], color="black", linestyle="--", linewidth=1.2, label=level[1])
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({_number(r["snr"]) for r in sweep}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("SNR (line amplitude / noise std at the peak)")
    ax.set_ylabel(ylabel)
    return _finish(fig, ax, path, title)


def plot_s_curves(rows: list[Row], path: Path | str, title: str) -> Path | None:
    """Bias against sub-pixel phase, one line per method (rows of `S_CURVE_COLUMNS`); None if none."""
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    for label, style, mine in _per_method(rows, "phase"):
        ax.plot([_number(r["phase"]) for r in mine], [_number(r["bias_px"]) for r in mine],
                label=label, markersize=4, linewidth=1.2, **style)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlim(-0.5, 0.5)
    ax.set_xlabel("sub-pixel phase of the true centre (px)")
    ax.set_ylabel("mean error (px)")
    return _finish(fig, ax, path, title)


def plot_examples(profiles: np.ndarray, centre: np.ndarray, estimates: dict[str, tuple[np.ndarray, np.ndarray]],
                  path: Path | str, captions: list[str] | None = None, half_width: int = 16) -> Path:
    """A panel per profile, zoomed on the true centre, with each method's estimate as a marker on its
    own level above the profile (missing when the method found no line)."""
    n = len(profiles)
    labels = list(estimates)
    styles = _styles(labels)
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols + 2.2, 3.8 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        lo = max(0, int(centre[k]) - half_width)
        hi = min(profiles.shape[1], int(centre[k]) + half_width + 1)
        ax.step(np.arange(lo, hi), profiles[k, lo:hi], where="mid", color="0.3", linewidth=1.0)
        top = float(profiles[k, lo:hi].max())
        ax.axvline(centre[k], color="black", linestyle="--", linewidth=1.0)
        for j, label in enumerate(labels):
            found, pos = estimates[label]
            if found[k]:
                ax.plot(pos[k], top * (1.06 + 0.045 * j), linestyle="none", markersize=5, **styles[label])
        ax.set_xlim(lo - 0.5, hi - 0.5)
        ax.set_ylim(0, top * (1.12 + 0.045 * len(labels)))
        ax.set_xlabel("pixel")
        ax.set_ylabel("sensor value (DN)")
        ax.set_title(captions[k] if captions else f"profile {k}", fontsize=10)
    handles = [plt.Line2D([], [], color="black", linestyle="--", label="true centre")]
    handles += [plt.Line2D([], [], linestyle="none", markersize=6, label=label, **styles[label]) for label in labels]
    fig.legend(handles=handles, loc="center right", fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 2.2 / (5.2 * cols + 2.2), 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_range_maps(heights: np.ndarray, errors: dict[str, np.ndarray], path: Path | str, title: str,
                    limit_mm: float | None = None) -> Path:
    """The true height map (mm) and each method's height error map (mm, NaN where it found nothing:
    grey), one panel each, frames down and columns across; errors share one symmetric colour scale."""
    panels = len(errors) + 1
    cols = min(panels, 4)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False)
    image = axes.flat[0].imshow(heights, cmap="viridis", aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=axes.flat[0], label="height (mm)")
    axes.flat[0].set_title("true height", fontsize=9)
    finite = [np.abs(e[np.isfinite(e)]) for e in errors.values()]
    if limit_mm is None:
        limit_mm = max([float(np.percentile(f, 99)) for f in finite if f.size] + [1e-6])
    cmap = plt.get_cmap("coolwarm").with_extremes(bad="0.6")
    for ax, (label, error) in zip(axes.flat[1:], errors.items()):
        image = ax.imshow(error, cmap=cmap, vmin=-limit_mm, vmax=limit_mm, aspect="auto", interpolation="nearest")
        fig.colorbar(image, ax=ax, label="height error (mm)")
        ax.set_title(label, fontsize=9)
    for k, ax in enumerate(axes.flat):
        if k >= panels:
            ax.set_axis_off()
        else:
            ax.set_xlabel("column")
            ax.set_ylabel("frame")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_efficiency_vs_luts(points: list[Row], reference: Row | None, conditions: list[str], path: Path | str,
                            title: str) -> Path | None:
    """Efficiency (RMSE over the Cramér–Rao bound) against LUTs per added lane, one panel per condition:
    each point a design (`name`, `kind`, `luts_per_lane`, `efficiency_<condition>`), `reference` (the same
    keys) drawn as a star; None if no point has both numbers."""
    usable = [p for p in points if not math.isnan(_number(p.get("luts_per_lane")))]
    if not usable:
        return None
    kinds = list(dict.fromkeys(p["kind"] for p in usable))
    styles = _styles(kinds)
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.6 * len(conditions), 4.4), squeeze=False)
    for ax, condition in zip(axes[0], conditions):
        key = f"efficiency_{condition}"
        for kind in kinds:
            mine = [p for p in usable if p["kind"] == kind]
            ax.scatter([_number(p["luts_per_lane"]) for p in mine], [_number(p.get(key)) for p in mine],
                       label=kind, color=styles[kind]["color"], marker=styles[kind]["marker"], s=36)
            for p in mine:
                ax.annotate(p["name"], (_number(p["luts_per_lane"]), _number(p.get(key))), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        if reference is not None:
            ax.scatter([_number(reference["luts_per_lane"])], [_number(reference.get(key))], marker="*", s=160,
                       color="black", label=reference["name"])
        ax.axhline(1.0, color="grey", linestyle=":", linewidth=1.0)
        ax.set_xscale("log")
        ax.set_xlabel("LUTs per added lane (Yosys)")
        ax.set_ylabel(f"efficiency at {condition}")
        ax.set_title(condition)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)

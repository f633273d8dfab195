"""The hardware figure: LUTs and estimated Gpixel/s against lanes, one line per network (bits)."""
from __future__ import annotations

from pathlib import Path

from workbench.hdl.estimates import PAPER_GPIX_PER_S


def plot_hardware(rows: list[dict], path: Path) -> None:
    """Two panels (LUTs; estimated Gpixel/s with the paper's 4 Gpixel/s line) written as a PNG."""
    import matplotlib.pyplot as plt

    fig, (ax_luts, ax_rate) = plt.subplots(1, 2, figsize=(10, 4))
    for model in sorted({r["model"] for r in rows}):
        mine = sorted((r for r in rows if r["model"] == model and r.get("gpix_per_s_est", "") != ""),
                      key=lambda r: r["lanes"])
        if not mine:
            continue
        bits = f"W{mine[0]['weight_bits']}/A{mine[0]['act_bits']}" if mine[0]["weight_bits"] != "" else "classical"
        label = f"{model} ({bits})"
        lanes = [r["lanes"] for r in mine]
        line, = ax_luts.plot(lanes, [r["luts"] for r in mine], "-", label=label)
        ax_rate.plot(lanes, [r["gpix_per_s_est"] for r in mine], "-", color=line.get_color(), label=label)
        for ax, key in ((ax_luts, "luts"), (ax_rate, "gpix_per_s_est")):
            for method, marker in (("yosys", "o"), ("yosys-scaled", "^"), ("analytic", "x")):
                pts = [r for r in mine if r["method"] == method]
                ax.plot([r["lanes"] for r in pts], [r[key] for r in pts], marker, color=line.get_color())
    ax_rate.axhline(PAPER_GPIX_PER_S, color="k", linestyle="--", linewidth=1, label="paper: 4 Gpixel/s")
    for ax, title in ((ax_luts, "LUTs (Yosys synth_xilinx; o run, ^ scaled, x analytic)"),
                      (ax_rate, "estimated Gpixel/s (pre-route clock x lanes)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("lanes P (pixels per clock)")
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    ax_rate.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)

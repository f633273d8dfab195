"""Rows of `tables/hardware.csv`: Yosys runs, Yosys runs scaled to more lanes, and the analytic model.

`method` says how a row's resource numbers were obtained:
- `yosys`: a full `synth_xilinx` run of the design at that lane count;
- `yosys-scaled`: a straight line through the Yosys runs at the two widest synthesised lane counts
  (resources grow with P plus a shared head), extrapolated to P (a P between two runs: the line
  between those two, `resource_at`); clock from the widest run;
- `analytic`: no Yosys run; resources from `workbench.hdl.estimates.analytic_estimate`, clock
  from the widest Yosys run when there is one.
Every row also carries the analytic LUT/FF numbers so the two can be compared.
"""
from __future__ import annotations

import bisect
import csv
import io
from pathlib import Path

from workbench.qnn.contract import Network
from workbench.hdl.estimates import analytic_estimate, network_bits, throughput_fields
from workbench.files import atomic_write_text
from workbench.hdl.synth import SynthResult, estimated_clock_mhz

COLUMNS = ("model", "weight_bits", "act_bits", "lanes", "luts", "ffs", "carry4", "dsps", "brams",
           "luts_nodsp", "dsps_nodsp", "f_est_mhz", "gpix_per_s_est", "ops_per_pixel", "tops_est",
           "luts_analytic", "ffs_analytic", "estimated_to_reach_4gpix", "method", "part",
           "pipeline_stages", "arithmetic", "yosys_seconds")
RESOURCES = ("luts", "ffs", "carry4", "dsps", "brams", "luts_nodsp", "dsps_nodsp")


def _base(model: str, network: Network, lanes: int, part: str) -> dict:
    weight_bits, act_bits = network_bits(network)
    analytic = analytic_estimate(network)
    return {"model": model, "weight_bits": weight_bits, "act_bits": act_bits, "lanes": lanes,
            "luts_analytic": analytic.luts(lanes), "ffs_analytic": analytic.ffs(lanes), "part": part}


def yosys_row(model: str, network: Network, lanes: int, result: SynthResult, part: str) -> dict:
    """A row from a full Yosys run at `lanes` lanes."""
    row = _base(model, network, lanes, part)
    counts, nodsp = result.with_dsp, result.no_dsp
    row.update(luts=counts.luts, ffs=counts.ffs, carry4=counts.carry4, dsps=counts.dsps,
               brams=counts.brams, luts_nodsp=nodsp.luts, dsps_nodsp=nodsp.dsps,
               method="yosys", yosys_seconds=round(result.seconds, 1))
    row.update(throughput_fields(network, lanes, estimated_clock_mhz(result.arrival_ns, part)))
    return row


def scaled_row(model: str, network: Network, lanes: int, measured: list[dict], part: str) -> dict:
    """A row for `lanes` from the Yosys rows `measured` (`resource_at`: beyond them, the line through the two widest)."""
    widest = max(measured, key=lambda r: r["lanes"])
    row = _base(model, network, lanes, part)
    for key in RESOURCES:
        value = resource_at([(r["lanes"], r[key]) for r in measured], lanes)
        row[key] = round(value, 1) if key == "brams" else int(round(value))
    row.update(method="yosys-scaled", yosys_seconds="")
    row.update(throughput_fields(network, lanes, widest["f_est_mhz"]))
    return row


def resource_at(points: list[tuple[int, float]], lanes: int) -> float:
    """A resource at `lanes` from (lanes, value) points, never negative: linear between the two
    neighbouring points; beyond the widest, the line through the two widest (below the narrowest,
    through the two narrowest); from a single point, proportional to lanes."""
    points = sorted(points)
    if len(points) == 1:
        (p, v), = points
        return max(v * lanes / p, 0.0)
    index = min(max(bisect.bisect_left([p for p, _ in points], lanes), 1), len(points) - 1)
    (p1, v1), (p2, v2) = points[index - 1], points[index]
    return max(v2 + (v2 - v1) / (p2 - p1) * (lanes - p2), 0.0)


def analytic_row(model: str, network: Network, lanes: int, f_est_mhz: float | None, part: str) -> dict:
    """A row from the analytic model alone (throughput only when a clock estimate is given)."""
    row = _base(model, network, lanes, part)
    row.update(luts=row["luts_analytic"], ffs=row["ffs_analytic"], carry4="", dsps=0, brams=0,
               luts_nodsp=row["luts_analytic"], dsps_nodsp=0, method="analytic", yosys_seconds="")
    if f_est_mhz is not None:
        row.update(throughput_fields(network, lanes, f_est_mhz))
    return row


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write rows (missing columns left empty) as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())

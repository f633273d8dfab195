"""Yosys resource counts and a pre-route clock estimate for the converted Verilog (Xilinx 7-series).

`synth_xilinx -family xc7 -abc9` with DSP inference gives LUT, FF, CARRY4, DSP48E1 and block-RAM
counts, and then `sta` with the Xilinx cell library's specify delays (`+/xilinx/cells_sim.v`) the
latest arrival time through cells only. Only when that netlist uses DSP48E1 blocks is a second run
with `-nodsp` made (otherwise the two counts are the same netlist: constant products are already
shift-and-add), which halves the cost for the small-weight networks. The
clock estimate multiplies that by a routing factor and caps it at the part's fabric limit; both
are stated assumptions, so the result is labelled pre-route and is only "estimated to reach".
Results are cached by a hash of the netlist text and the script (`data/cache/yosys/<hash>.json`):
wide designs take minutes and gigabytes. The mapped netlist whose cells are counted (Yosys
`write_verilog -noattr`, Xilinx primitives) is kept beside it, gzipped (`<hash>.v.gz`), for the
post-synthesis simulation (`workbench.verify.postsynth`).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.errors import ToolchainError
from workbench.files import atomic_write, atomic_write_text
from workbench.hdl.tools import run_tool, tail

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "data" / "cache" / "yosys"
# Cell delays are roughly half of a 7-series path after placement and routing (rule of thumb).
ROUTING_FACTOR = 2.0
# Assumed practical clock limit of LUT + CARRY4 fabric logic per speed grade (below the clock
# buffers' data-sheet maximum), used as a cap on the estimate.
FABRIC_LIMIT_MHZ = {"-1": 400.0, "-2": 450.0, "-3": 500.0}
_HEADER = re.compile(r"^(//|--) (File|Date):.*$", re.MULTILINE)
_ARRIVAL = re.compile(r"Latest arrival time in '[^']*' is (\d+)")
LUT_CELLS = ("INV", "LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "SRL16E", "SRLC32E",
             "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM32M", "RAM64M")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")


@dataclass(frozen=True)
class CellCounts:
    """Resource counts of one mapped netlist (LUTs include INV, shift-register and LUT-RAM cells)."""

    luts: int
    ffs: int
    carry4: int
    dsps: int
    brams: float  # RAMB36E1 + RAMB18E1 / 2
    cells: dict[str, int]


@dataclass(frozen=True)
class SynthResult:
    """Counts with and without DSP inference (the same when no DSP was inferred), the cell-only
    arrival time and the run's cost."""

    top: str
    with_dsp: CellCounts
    no_dsp: CellCounts
    arrival_ns: float
    seconds: float
    netlist_hash: str
    cached: bool = False
    netlist: Path | None = None  # the counted netlist (gzipped Verilog) when kept in the cache

    def clock_estimate_mhz(self, part: str) -> float:
        """Estimated pre-route clock: 1 / (arrival x ROUTING_FACTOR), capped at the fabric limit."""
        return estimated_clock_mhz(self.arrival_ns, part)

    def summary(self, part: str) -> dict:
        """The DSP-free counts, arrival time, clock estimate and Yosys time, as one table row's fields."""
        counts = self.no_dsp
        return {"luts": counts.luts, "ffs": counts.ffs, "carry4": counts.carry4, "dsps": counts.dsps,
                "arrival_ns": self.arrival_ns, "f_est_mhz": round(self.clock_estimate_mhz(part), 1),
                "yosys_seconds": round(self.seconds, 1)}


def fabric_limit_mhz(part: str) -> float:
    """The assumed fabric limit for a part, from its speed grade suffix (-1, -2, -3)."""
    for grade, limit in FABRIC_LIMIT_MHZ.items():
        if part.endswith(grade):
            return limit
    raise ToolchainError(f"no fabric limit known for part {part!r}; its name should end in "
                         f"one of the speed grades {list(FABRIC_LIMIT_MHZ)}")


def estimated_clock_mhz(arrival_ns: float, part: str) -> float:
    """Pre-route clock estimate from a cell-only arrival time (see the module docstring)."""
    limit = fabric_limit_mhz(part)
    if arrival_ns <= 0:
        return limit
    return min(limit, 1000.0 / (arrival_ns * ROUTING_FACTOR))


def count_cells(cells: dict[str, int]) -> CellCounts:
    """Fold Yosys's cell-type counts into LUT/FF/CARRY4/DSP/BRAM numbers."""
    def total(names: tuple[str, ...]) -> int:
        return sum(cells.get(name, 0) for name in names)

    return CellCounts(luts=total(LUT_CELLS), ffs=total(FF_CELLS), carry4=cells.get("CARRY4", 0),
                      dsps=cells.get("DSP48E1", 0),
                      brams=cells.get("RAMB36E1", 0) + cells.get("RAMB18E1", 0) / 2, cells=dict(cells))


def netlist_hash(verilog_text: str, top: str) -> str:
    """Hash of the netlist (without MyHDL's file/date header) and the synthesis scripts."""
    digest = hashlib.sha256()
    for part in (_HEADER.sub("", verilog_text), top, _script("X", top, True), _script("X", top, False),
                 str(ROUTING_FACTOR)):
        digest.update(part.encode())
    return digest.hexdigest()[:24]


MAPPED = "mapped.v"


def _script(verilog: str, top: str, dsp: bool) -> str:
    flags = "-abc9" if dsp else "-abc9 -nodsp"
    script = [f"read_verilog {verilog}", f"synth_xilinx -family xc7 -top {top} {flags}",
              "tee -q -o stat.json stat -json", f"write_verilog -noattr {MAPPED}"]
    if dsp:
        script += ["read_verilog -lib -specify +/xilinx/cells_sim.v", "tee -q -o sta.txt sta"]
    return "; ".join(script)


def _run_yosys(verilog: Path, top: str, dsp: bool, timeout_s: float
               ) -> tuple[dict[str, int], float | None, bytes]:
    """Cell counts, arrival time (DSP run only) and the mapped netlist's text."""
    with tempfile.TemporaryDirectory(prefix="yosys-") as tmp:
        work = Path(tmp)
        run_tool(["yosys", "-q", "-p", _script(str(verilog.resolve()), top, dsp)], cwd=work,
                 timeout_s=timeout_s)
        stat = json.loads((work / "stat.json").read_text())
        cells = stat["design"]["num_cells_by_type"]
        mapped = (work / MAPPED).read_bytes()
        if not dsp:
            return cells, None, mapped
        sta = (work / "sta.txt").read_text()
    match = _ARRIVAL.search(sta)
    if match is None:
        raise ToolchainError(f"yosys sta printed no arrival time:\n{tail(sta)}")
    return cells, int(match.group(1)) / 1000.0, mapped  # ps -> ns


def synthesize(verilog: Path, top: str, *, timeout_s: float = 900, cache_dir: Path | None = DEFAULT_CACHE
               ) -> SynthResult:
    """Run (or load from the cache) the Yosys flow on `verilog` (the -nodsp run only when DSPs appear)."""
    key = netlist_hash(verilog.read_text(), top)
    cached = cache_dir / f"{key}.json" if cache_dir is not None else None
    netlist = cache_dir / f"{key}.v.gz" if cache_dir is not None else None
    if cached is not None and cached.is_file() and netlist.is_file():
        data = json.loads(cached.read_text())
        return SynthResult(top, CellCounts(**data["with_dsp"]), CellCounts(**data["no_dsp"]),
                           data["arrival_ns"], data["seconds"], key, cached=True, netlist=netlist)
    start = time.perf_counter()
    cells, arrival, mapped = _run_yosys(verilog, top, True, timeout_s)
    counts = count_cells(cells)
    no_dsp = counts
    if counts.dsps:
        no_dsp_cells, _, mapped = _run_yosys(verilog, top, False, timeout_s)
        no_dsp = count_cells(no_dsp_cells)
    result = SynthResult(top, counts, no_dsp, float(arrival), time.perf_counter() - start, key, netlist=netlist)
    if cached is not None:
        atomic_write(netlist, lambda handle: handle.write(gzip.compress(mapped, mtime=0)))
        record = {k: v for k, v in asdict(result).items() if k not in ("cached", "top", "netlist_hash", "netlist")}
        atomic_write_text(cached, json.dumps(record, indent=1))
    return result

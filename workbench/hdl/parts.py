"""A small catalogue of FPGA parts: the resources a design has to fit in, and the clock cap they get.

Resources are the public product-table numbers: Xilinx 7 Series FPGAs Data Sheet: Overview (DS180,
Kintex-7 table: logic cells, slices, CLB flip-flops, DSP48E1 slices, 36 Kb block RAMs; a 7-series
slice holds 4 LUTs and 8 flip-flops, UG474) and the Kintex UltraScale+ product table (DS890/product
selection guide: CLB LUTs, CLB flip-flops, DSP slices, 36 Kb block RAMs).

The Yosys counts of `workbench.hdl.synth` are 7-series cells (`synth_xilinx -family xc7`: LUT6,
CARRY4, FDRE). An UltraScale+ CLB has CARRY8 chains, LUT pairs that pack differently and faster
fabric, so a count compared with an UltraScale+ part is an approximation and is labelled so
(`Part.counts`). The clock cap is the existing speed-grade rule (`synth.fabric_limit_mhz`) for every
part, UltraScale+ included: its -2 cap (450 MHz) is kept for lack of evidence for another.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.errors import ConfigError
from workbench.hdl.synth import fabric_limit_mhz

SEVEN_SERIES_COUNTS = "7-series cells (Yosys synth_xilinx -family xc7)"
APPROXIMATE_COUNTS = "approximation: 7-series cell counts against an UltraScale+ part (CARRY8, other packing)"


@dataclass(frozen=True)
class Part:
    """One device at one speed grade: its resources and whether 7-series cell counts apply to it."""

    name: str  # device and speed grade, e.g. "xc7k160t-2"
    family: str
    luts: int
    ffs: int
    dsps: int
    bram36: int
    seven_series: bool

    @property
    def device(self) -> str:
        """The device without its speed grade."""
        return self.name.rsplit("-", 1)[0]

    @property
    def speed_grade(self) -> str:
        """The speed grade suffix, e.g. "-2"."""
        return "-" + self.name.rsplit("-", 1)[1]

    @property
    def fabric_limit_mhz(self) -> float:
        """The clock cap of the estimate for this part (the speed-grade rule of `workbench.hdl.synth`)."""
        return fabric_limit_mhz(self.name)

    @property
    def counts(self) -> str:
        """How Yosys's counts relate to this part: exact cell types, or an approximation."""
        return SEVEN_SERIES_COUNTS if self.seven_series else APPROXIMATE_COUNTS

    def capacity(self) -> dict[str, int]:
        """The resources, keyed like the columns of `tables/hardware.csv`."""
        return {"luts": self.luts, "ffs": self.ffs, "dsps": self.dsps, "brams": self.bram36}


# Smallest first: "the smallest listed part that fits" is the first that fits.
CATALOGUE = (
    Part("xc7k160t-2", "Kintex-7", luts=101_400, ffs=202_800, dsps=600, bram36=325, seven_series=True),
    Part("xc7k325t-2", "Kintex-7", luts=203_800, ffs=407_600, dsps=840, bram36=445, seven_series=True),
    Part("xcku5p-2", "Kintex UltraScale+", luts=216_960, ffs=433_920, dsps=1_824, bram36=480, seven_series=False),
    Part("xc7k410t-2", "Kintex-7", luts=254_200, ffs=508_400, dsps=1_540, bram36=795, seven_series=True),
    Part("xcku15p-2", "Kintex UltraScale+", luts=522_720, ffs=1_045_440, dsps=1_968, bram36=984,
         seven_series=False),
)
# A Vivado part name: device, optional package (e.g. ffg676, -ffvb676), speed grade, optional temperature.
_PACKAGE_GRADE = re.compile(r"^(-?[a-z]+\d+)?(-\d)(-[a-z])?$")


def find_part(name: str) -> Part:
    """The catalogue entry of `name`: "xc7k160t-2" or a full Vivado part name such as
    "xc7k160tffg676-2" or "xcku5p-ffvb676-2-e" (package and temperature grade ignored)."""
    spelled = name.strip().lower()
    for part in sorted(CATALOGUE, key=lambda p: -len(p.device)):
        rest = spelled[len(part.device):] if spelled.startswith(part.device) else None
        match = _PACKAGE_GRADE.match(rest) if rest is not None else None
        if match and match.group(2) == part.speed_grade:
            return part
    raise ConfigError(f"unknown FPGA part {name!r}; the catalogue knows {[p.name for p in CATALOGUE]} "
                      "(a full part name with package, e.g. 'xc7k160tffg676-2', is accepted)")

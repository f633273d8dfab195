"""Which listed part a network's design fits, at how many lanes, and whether 4 and 8 Gpixel/s fit
(`tables/parts.csv` and the "which part" section of `report/hardware.md`).

Per network (its rows of `tables/hardware.csv`), resources against lanes come from the Yosys rows
where there are any (else the scaled rows, else the analytic ones): linear between two synthesised
lane counts and, beyond the widest, along the line through the two widest (`table.resource_at`, the
rule of the scaled rows). Each value says which: `basis` is `yosys` at a synthesised lane count,
`yosys-interpolated` between two, `yosys-scaled` beyond the widest. The clock is the widest source
row's estimate, capped at the part's fabric limit (`parts.Part.fabric_limit_mhz`; every listed part
is -2, so the cap is the rows'). A design fits a part when its LUTs, FFs, DSPs and block RAMs are all
within UTILISATION_CEILING_PERCENT of the part's.

- most lanes that fit: the lane count before the first that does not fit (counting up from 1, at
  most MAX_LANES), and the power of two at or below it: the generator needs the profile length to be
  a multiple of the lanes, so with L = 256 only powers of two are buildable;
- a target (4 and 8 Gpixel/s): lanes needed = `estimates.lanes_for_target` (a power of two) at the
  part's clock, the resources there, and whether they fit; and the LUTs per lane that would fit at
  that lane count, `(ceiling x part LUTs - fixed LUTs) / lanes`, beside the measured per-lane slope.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from workbench.hdl.estimates import PAPER_GPIX_PER_S, lanes_for_target
from workbench.hdl.parts import CATALOGUE, Part, find_part
from workbench.hdl.table import resource_at

# 80%: routing and timing closure get hard above it (Vivado's UltraFast methodology guide, UG949,
# advises utilisation guidelines of this order, stricter for some resources); a design estimated at
# 80% of a part's LUTs is already a full device.
UTILISATION_CEILING_PERCENT = 80
TARGETS_GPIX = (PAPER_GPIX_PER_S, 8.0)
MAX_LANES = 4096
# The clock the issue frames its per-lane budget at (a 2.0 ns register-to-register period, docs/hdl.md).
REFERENCE_CLOCK_MHZ = 250.0
CHECKED = ("luts", "ffs", "dsps", "brams")
SOURCES = ("yosys", "yosys-scaled", "analytic")  # preferred first


def _target_columns(target: float) -> tuple[str, ...]:
    tag = f"{target:g}g"
    return tuple(f"{name}_{tag}" for name in ("lanes", "luts", "ffs", "basis", "fits", "luts_per_lane_allowed"))


COLUMNS = (("model", "weight_bits", "act_bits", "part", "family", "counts", "part_luts", "part_ffs",
            "ceiling_percent", "source", "widest_lanes", "f_est_mhz", "luts_per_lane", "luts_fixed",
            "max_lanes", "max_lanes_pow2", "max_lanes_basis", "gpix_at_max")
           + tuple(column for target in TARGETS_GPIX for column in _target_columns(target)))


@dataclass(frozen=True)
class LaneModel:
    """One network's resources against lanes, from its rows of one method, and their clock estimate."""

    model: str
    weight_bits: int
    act_bits: int
    source: str
    points: dict[str, list[tuple[int, float]]]  # resource -> (lanes, value), lanes ascending
    f_est_mhz: float  # the widest row's estimate
    part: str  # the part that estimate was made for

    @property
    def lanes(self) -> list[int]:
        """The lane counts of the source rows."""
        return [lanes for lanes, _ in self.points["luts"]]

    def at(self, lanes: int) -> dict[str, float]:
        """Every checked resource at `lanes`."""
        return {key: resource_at(points, lanes) for key, points in self.points.items()}

    def basis(self, lanes: int) -> str:
        """Where the resources at `lanes` come from (see the module docstring)."""
        if lanes in self.lanes:
            return self.source
        if lanes < max(self.lanes):
            return f"{self.source}-interpolated"
        return "yosys-scaled" if self.source == "yosys" else f"{self.source}-extrapolated"

    def per_lane(self, key: str = "luts") -> float:
        """The slope beyond the widest row: the cost of one more lane."""
        points = self.points[key]
        if len(points) == 1:
            return points[0][1] / points[0][0]
        (p1, v1), (p2, v2) = points[-2:]
        return (v2 - v1) / (p2 - p1)

    def fixed(self, key: str = "luts") -> float:
        """The part that does not grow with lanes (the head, mostly): the intercept of that line."""
        lanes, value = self.points[key][-1]
        return value - self.per_lane(key) * lanes

    def clock_mhz(self, part: Part) -> float:
        """The clock estimate on `part`: the rows' estimate, capped at the part's fabric limit."""
        return min(self.f_est_mhz, part.fabric_limit_mhz)


def lane_models(rows: Iterable[dict]) -> list[LaneModel]:
    """One LaneModel per network of `rows` (hardware.csv rows), from its preferred method's rows with a clock."""
    rows = [r for r in rows if r.get("f_est_mhz") not in (None, "")]
    models = []
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        methods = {r["method"] for r in mine}
        source = next((method for method in SOURCES if method in methods), sorted(methods)[0])
        used = sorted((r for r in mine if r["method"] == source), key=lambda r: int(r["lanes"]))
        points = {key: [(int(r["lanes"]), float(r.get(key) or 0)) for r in used] for key in CHECKED}
        widest = used[-1]
        models.append(LaneModel(model, int(widest["weight_bits"]), int(widest["act_bits"]), source, points,
                                float(widest["f_est_mhz"]), str(widest["part"])))
    return models


def limits(part: Part) -> dict[str, int]:
    """The most of each resource a design may use on `part` (the utilisation ceiling, rounded down)."""
    return {key: value * UTILISATION_CEILING_PERCENT // 100 for key, value in part.capacity().items()}


def fits(model: LaneModel, part: Part, lanes: int) -> bool:
    """Whether the design at `lanes` lanes is within the ceiling of every checked resource of `part`."""
    need, allowed = model.at(lanes), limits(part)
    return all(need[key] <= allowed[key] for key in CHECKED)


def max_lanes(model: LaneModel, part: Part) -> int:
    """The lane count before the first that does not fit (0 when one lane does not; at most MAX_LANES)."""
    lanes = 0
    while lanes < MAX_LANES and fits(model, part, lanes + 1):
        lanes += 1
    return lanes


def luts_per_lane_allowed(model: LaneModel, part: Part, lanes: int) -> float:
    """The LUTs one lane may cost for `lanes` lanes to fit `part`'s LUT ceiling beside the fixed LUTs."""
    return (limits(part)["luts"] - model.fixed("luts")) / lanes


def part_row(model: LaneModel, part: Part) -> dict:
    """One row of parts.csv: `model` on `part` (see the module docstring)."""
    clock = model.clock_mhz(part)
    most = max_lanes(model, part)
    row = {"model": model.model, "weight_bits": model.weight_bits, "act_bits": model.act_bits, "part": part.name,
           "family": part.family, "counts": part.counts, "part_luts": part.luts, "part_ffs": part.ffs,
           "ceiling_percent": UTILISATION_CEILING_PERCENT, "source": model.source, "widest_lanes": max(model.lanes),
           "f_est_mhz": round(clock, 1), "luts_per_lane": round(model.per_lane("luts")),
           "luts_fixed": round(model.fixed("luts")), "max_lanes": most,
           "max_lanes_pow2": 1 << (most.bit_length() - 1) if most else 0,
           "max_lanes_basis": model.basis(most) if most else "", "gpix_at_max": round(most * clock / 1000.0, 3)}
    for target in TARGETS_GPIX:
        lanes = lanes_for_target(clock, target)
        need = model.at(lanes)
        values = (lanes, round(need["luts"]), round(need["ffs"]), model.basis(lanes), fits(model, part, lanes),
                  round(luts_per_lane_allowed(model, part, lanes)))
        row.update(zip(_target_columns(target), values))
    return row


def parts_rows(hardware: Iterable[dict], parts: Iterable[Part] = CATALOGUE) -> list[dict]:
    """parts.csv: every network of the hardware rows on every part."""
    parts = list(parts)
    return [part_row(model, part) for model in lane_models(hardware) for part in parts]


def _distance(model: LaneModel, part: Part, clock_mhz: float, target: float) -> str:
    lanes = lanes_for_target(clock_mhz, target)
    allowed = luts_per_lane_allowed(model, part, lanes)
    measured = model.per_lane("luts")
    verdict = (f"{measured / allowed:.2f}x the allowance" if allowed > 0 else "nothing is left for the lanes")
    return (f"at {clock_mhz:g} MHz, {lanes} lanes: {allowed:,.0f} LUTs per lane allowed "
            f"(ceiling {limits(part)['luts']:,} minus {model.fixed('luts'):,.0f} fixed), {measured:,.0f} measured "
            f"per lane, {verdict}")


def parts_markdown(hardware: list[dict], parts: Iterable[Part] = CATALOGUE) -> str:
    """The report section: which part for 4 and 8 Gpixel/s, and how far 8 Gpixel/s is from the rows' part."""
    parts = list(parts)
    tags = [f"{t:g} Gpixel/s" for t in TARGETS_GPIX]
    lines = ["## Which part for 4 and 8 Gpixel/s", "",
             f"A design fits a part when its LUTs, FFs, DSPs and block RAMs are within "
             f"{UTILISATION_CEILING_PERCENT}% of the part's (`tables/parts.csv`, `workbench.hdl.fit`). Resources "
             "come from the Yosys rows: *yosys* at a synthesised lane count, *yosys-interpolated* between two, "
             "*yosys-scaled* beyond the widest (the line through the two widest). Clocks are pre-route estimates. "
             "The counts are 7-series cells: on the UltraScale+ parts (xcku*) they are an approximation (CARRY8, "
             "other packing, faster fabric; the -2 clock cap of the 7-series rule is kept).", "",
             "| model | W/A | part | most lanes that fit | est. Gpixel/s there | "
             + " | ".join(f"{tag}: lanes, LUTs, fits" for tag in tags) + " |",
             "|---" * (5 + len(tags)) + "|"]
    models = lane_models(hardware)
    table = {(model.model, part.name): part_row(model, part) for model in models for part in parts}
    for model in models:
        for part in parts:
            row = table[model.model, part.name]
            cells = [f"{row[f'lanes_{t:g}g']}, {row[f'luts_{t:g}g']:,} ({row[f'basis_{t:g}g']}), "
                     f"{'**yes**' if row[f'fits_{t:g}g'] else 'no'}" for t in TARGETS_GPIX]
            lines.append(f"| {model.model} | W{model.weight_bits}/A{model.act_bits} | {part.name} | {row['max_lanes']} "
                         f"({row['max_lanes_basis'] or '-'}; power of two {row['max_lanes_pow2']}) | "
                         f"{row['gpix_at_max']} | " + " | ".join(cells) + " |")
    lines.append("")
    for model in models:
        smallest = [next((p.name for p in parts if table[model.model, p.name][f"fits_{t:g}g"]),
                         "none of the listed parts") for t in TARGETS_GPIX]
        home = find_part(model.part)
        lines += [f"- **{model.model}** (Yosys rows at lanes {model.lanes}, source `{model.source}`): smallest listed "
                  "part " + ", ".join(f"for {tag}: {name}" for tag, name in zip(tags, smallest)) + ". "
                  f"8 Gpixel/s on {home.name}: {_distance(model, home, model.clock_mhz(home), TARGETS_GPIX[-1])}; "
                  f"{_distance(model, home, REFERENCE_CLOCK_MHZ, TARGETS_GPIX[-1])}."]
    return "\n".join(lines) + "\n"

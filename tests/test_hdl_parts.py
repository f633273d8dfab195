"""The parts catalogue and the fit of hardware rows to parts (workbench.hdl.parts, workbench.hdl.fit)."""
from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.evaluation.tables import read_csv, write_csv
from workbench.hdl.fit import (COLUMNS, UTILISATION_CEILING_PERCENT, fits, lane_models, limits, max_lanes,
                               parts_markdown, parts_rows)
from workbench.hdl.parts import APPROXIMATE_COUNTS, CATALOGUE, SEVEN_SERIES_COUNTS, Part, find_part
from workbench.hdl.table import resource_at
from workbench.hdl.vivado import DEFAULT_PART


def _rows(points: dict[int, tuple[int, int]], f_est_mhz: float = 125.0, method: str = "yosys",
          model: str = "m") -> list[dict]:
    """Hardware rows of one network: lanes -> (LUTs, FFs), no DSP or block RAM."""
    return [{"model": model, "weight_bits": 4, "act_bits": 4, "lanes": lanes, "luts": luts, "ffs": ffs, "dsps": 0,
             "brams": 0, "f_est_mhz": f_est_mhz, "method": method, "part": DEFAULT_PART}
            for lanes, (luts, ffs) in points.items()]


def test_catalogue_numbers_are_positive_named_and_smallest_first():
    names = [part.name for part in CATALOGUE]
    assert {"xc7k160t-2", "xc7k325t-2", "xcku5p-2"} <= set(names) and len(set(names)) == len(names)
    for part in CATALOGUE:
        assert min(part.luts, part.ffs, part.dsps, part.bram36) > 0, part
        assert part.ffs == 2 * part.luts  # 7-series and UltraScale+ CLBs: two flip-flops per LUT
        assert part.fabric_limit_mhz == 450.0  # every listed part is -2: the existing rule's cap
        assert part.counts == (SEVEN_SERIES_COUNTS if part.family == "Kintex-7" else APPROXIMATE_COUNTS)
    assert [part.luts for part in CATALOGUE] == sorted(part.luts for part in CATALOGUE)
    assert find_part("xc7k160t-2").capacity() == {"luts": 101_400, "ffs": 202_800, "dsps": 600, "brams": 325}


def test_full_part_names_resolve_and_unknown_parts_are_named():
    assert find_part(DEFAULT_PART).name == "xc7k160t-2"
    assert find_part("xc7k325tffg900-2").name == "xc7k325t-2"
    assert find_part("xcku5p-ffvb676-2-e").name == "xcku5p-2"
    assert find_part("xcku15p-2").name == "xcku15p-2"  # not taken for xcku5p or the reverse
    for unknown in ("xc7a35t-1", "xc7k160t-1", "xc7k160"):
        with pytest.raises(ConfigError, match=rf"{unknown!r}.*xc7k160t-2.*xcku5p-2"):
            find_part(unknown)


def test_most_lanes_stop_exactly_at_the_ceiling():
    """1,000 LUTs a lane plus 120: 81 lanes need 81,120 LUTs, exactly 80% of xc7k160t's 101,400."""
    part = find_part("xc7k160t-2")
    assert UTILISATION_CEILING_PERCENT == 80 and limits(part)["luts"] == 81_120
    model, = lane_models(_rows({1: (1_120, 1_000), 2: (2_120, 2_000)}))
    assert model.at(81)["luts"] == 81_120
    assert fits(model, part, 81) and not fits(model, part, 82)
    assert max_lanes(model, part) == 81
    smaller = Part("xc-test-2", "Kintex-7", luts=101_399, ffs=202_800, dsps=600, bram36=325, seven_series=True)
    assert max_lanes(model, smaller) == 80  # one LUT less on the part: the 81st lane no longer fits


def test_flip_flops_bind_when_they_run_out_first():
    part = find_part("xc7k160t-2")  # 162,240 FFs at 80%: 3,000 a lane -> 54 lanes (162,000), 55 do not
    model, = lane_models(_rows({1: (100, 3_000), 2: (200, 6_000)}))
    assert (fits(model, part, 54), fits(model, part, 55), max_lanes(model, part)) == (True, False, 54)


def test_targets_lanes_resources_and_smallest_part():
    """125 MHz: 4 Gpixel/s needs 32 lanes, 8 needs 64. 1,300 LUTs a lane + 120: 32 lanes (41,720) fit
    xc7k160t, 64 lanes (83,320) only the next part up."""
    rows = parts_rows(_rows({1: (1_420, 1_000), 4: (5_320, 4_000)}))
    assert len(rows) == len(CATALOGUE) and all(set(row) == set(COLUMNS) for row in rows)
    first, second = rows[0], rows[1]
    assert (first["part"], first["lanes_4g"], first["luts_4g"], first["fits_4g"]) == ("xc7k160t-2", 32, 41_720, True)
    assert (first["lanes_8g"], first["luts_8g"], first["fits_8g"]) == (64, 83_320, False)
    assert (first["basis_4g"], first["max_lanes"], first["max_lanes_pow2"]) == ("yosys-scaled", 62, 32)
    assert first["luts_per_lane"] == 1_300 and first["luts_fixed"] == 120
    assert first["luts_per_lane_allowed_8g"] == round((81_120 - 120) / 64)
    assert first["gpix_at_max"] == pytest.approx(62 * 0.125)
    assert (second["part"], second["fits_8g"]) == ("xc7k325t-2", True)
    text = parts_markdown(_rows({1: (1_420, 1_000), 4: (5_320, 4_000)}))
    assert "for 4 Gpixel/s: xc7k160t-2, for 8 Gpixel/s: xc7k325t-2" in text
    assert "8 Gpixel/s on xc7k160t-2: at 125 MHz, 64 lanes: 1,266 LUTs per lane allowed" in text
    assert "at 250 MHz, 32 lanes: 2,531 LUTs per lane allowed" in text


def test_basis_labels_and_the_clock_cap():
    model, = lane_models(_rows({1: (100, 10), 2: (200, 20), 8: (800, 80)}, f_est_mhz=600.0)
                         + _rows({32: (1, 1)}, method="yosys-scaled"))  # Yosys rows win over scaled ones
    assert (model.source, model.lanes) == ("yosys", [1, 2, 8])
    assert [model.basis(p) for p in (2, 4, 8, 16)] == ["yosys", "yosys-interpolated", "yosys", "yosys-scaled"]
    assert model.clock_mhz(find_part("xc7k160t-2")) == 450.0
    scaled, = lane_models(_rows({16: (1_600, 160), 32: (3_200, 320)}, method="yosys-scaled"))
    assert (scaled.source, scaled.basis(32), scaled.basis(64)) == ("yosys-scaled", "yosys-scaled",
                                                                   "yosys-scaled-extrapolated")


def test_resource_at_interpolates_and_extends_the_widest_line():
    points = [(1, 1_000.0), (4, 3_400.0), (8, 6_000.0)]
    assert [resource_at(points, p) for p in (1, 2, 4, 6, 8, 16)] == [1_000, 1_800, 3_400, 4_700, 6_000, 11_200]
    assert resource_at([(4, 400.0)], 16) == 1_600  # one point: proportional
    assert resource_at([(2, 10.0), (4, 30.0)], 1) == 0  # never negative


def test_parts_csv_round_trips(tmp_path):
    rows = parts_rows(_rows({1: (1_120, 1_000), 2: (2_120, 2_000)}) + _rows({1: (500, 400), 4: (2_000, 1_600)}, model="n"))
    back = read_csv(write_csv(rows, tmp_path / "parts.csv", COLUMNS))
    assert len(back) == 2 * len(CATALOGUE)
    assert [(r["model"], r["part"], r["max_lanes"]) for r in back] == [(r["model"], r["part"], r["max_lanes"]) for r in rows]
    assert parts_rows([]) == []


def test_full_mode_synthesises_the_wide_designs_with_a_timeout_that_grows_with_lanes():
    from experiments.stages import hdl as stage

    full, quick = stage.SETTINGS["full"], stage.SETTINGS["quick"]
    assert {8, 16, 32} <= set(full["yosys_lanes"]) and not full["scaled_lanes"]  # real Yosys rows, not scaled
    assert [stage.yosys_timeout_s(full, p) for p in (1, 4, 8, 32)] == [3_600, 3_600, 7_200, 28_800]
    assert [stage.yosys_timeout_s(quick, p) for p in quick["yosys_lanes"]] == [1_800, 1_800]  # quick unchanged

"""The study's goals, judged from the result tables with their bootstrap intervals.

A goal is *met* only when the intervals say so, *missed* when they say the opposite, and
*undecided* when they overlap; a goal whose rows are absent is *not measured*. The thresholds are
those of the issues (quantized within 10% / 35% of float at SNR >= 8, 8/8 QAT at least as accurate
as TFLite int8 with 500 calibration profiles, QAT >= 3 bits against the best classical detector,
the 4/4 network against BR8 on common lines, in total error, in missed lines and gross errors, the 8/8
network's efficiency against the Gaussian fit's, the 2/2's missed lines, and the HYBRID 4/4 against BR8).
Every other network family in the rows (`workbench.pipeline.families`: method `nn_qat_<family>`) gets the
network-only goals of issue 12 (against BR8, missed lines, gross errors) and the hybrid goal of its own methods.

A goal on a ratio to the reference (`ratio_status`) has one decision rule: met when the point ratio
is at or below the target and the upper bound of its 95% paired-bootstrap interval is at most the
target + `RATIO_MARGIN`; missed when the lower bound is above the target; undecided otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from workbench.data.signals import CLEAN_CONDITIONS, preset_snr
from workbench.hdl.estimates import PAPER_GPIX_PER_S
from workbench.pipeline.families import families_among, in_family

Row = dict[str, Any]

HIGH_SNR = ("snr_8", "snr_16", "snr_32", "snr_64")
LOW_SNR = ("snr_2", "snr_4", "snr_8")
HARD_CONDITIONS = ("reflections", "snr_4", "snr_8")
FLOAT_TOLERANCE = {"4/4": 1.10, "2/2": 1.35}
TFLITE_REFERENCE = "tflite_int8_cal500"
RATIO_MARGIN = 0.05
PAIRED_RATIO_TARGETS = {"snr_8": 1.0, "snr_16": 1.0, "snr_32": 1.3, "snr_64": 1.3}  # 4/4 vs BR8, common lines
TOTAL_ERROR_CONDITIONS = ("snr_4", "snr_8", "snr_16", "snr_32", "snr_64")             # 4/4 total error <= BR8's
FIT_METHOD = "gauss_fit"
FIT_EFFICIENCY = 1.10  # the offline Gaussian fit's efficiency on the clean presets at SNR >= 16
MISS_FACTORS = {"4/4": 0.5, "2/2": 1.0}  # missed lines at SNR 8 at most this share of the reference's
EFFICIENCY_MARGIN = 0.10  # 8/8 network efficiency within this of the Gaussian fit's at SNR >= 16
HYBRID_METHOD = "hybrid_adaptive"  # run_all's hybrids stage: the network gates, the adaptive refinement locates
NETWORK_METHOD = "nn_qat"
STRICT_CONDITIONS = ("snr_8", "snr_16")
AT_OR_BELOW_CONDITIONS = ("snr_32", "snr_64")
GOAL_LUTS = 60_000  # issue 13: 4 Gpixel/s estimated within 60k LUTs, from a real (not scaled) Yosys run


@dataclass(frozen=True)
class Verdict:
    """One goal: status (met / missed / undecided / not measured) and the numbers behind it."""

    goal: str
    status: str
    evidence: str


def find_row(rows: list[Row], method: str, bits: str | None, condition: str) -> Row | None:
    """The row of `method` at `bits` (None: no bits) in `condition`, or None."""
    for row in rows:
        if row["method"] == method and (row.get("bits") or None) == bits and row["condition"] == condition:
            return row
    return None


def combine_statuses(statuses: list[str]) -> str:
    """One status for several checks: missed if any is, met if all are, else undecided."""
    if not statuses:
        return "not measured"
    if "missed" in statuses:
        return "missed"
    return "met" if all(s == "met" for s in statuses) else "undecided"


def _rmse(row: Row) -> str:
    return f"{row['rmse_px']:.3f} [{row['rmse_ci_low']:.3f}, {row['rmse_ci_high']:.3f}]"


def quantized_vs_float(rows: list[Row]) -> list[Verdict]:
    """4/4 within 10% and 2/2 within 35% of the float network's RMSE at every SNR >= 8."""
    verdicts = []
    for bits, factor in FLOAT_TOLERANCE.items():
        statuses, parts = [], []
        for condition in HIGH_SNR:
            q, f = find_row(rows, "nn_qat", bits, condition), find_row(rows, "nn_float", None, condition)
            if q is None or f is None:
                continue
            bound = factor * f["rmse_px"]
            statuses.append("met" if q["rmse_ci_high"] <= bound else "missed" if q["rmse_ci_low"] > bound
                            else "undecided")
            parts.append(f"{condition}: {_rmse(q)} vs {factor:g} x {f['rmse_px']:.3f} = {bound:.3f}")
        verdicts.append(Verdict(f"{bits}-bit QAT RMSE within {round((factor - 1) * 100)}% of float at SNR >= 8",
                                combine_statuses(statuses), "; ".join(parts) or "rows absent"))
    return verdicts


def qat_vs_tflite(rows: list[Row]) -> Verdict:
    """8/8 QAT (no calibration data) at least as accurate as TFLite int8 with 500 calibration profiles."""
    statuses, parts = [], []
    for condition in HIGH_SNR + ("mixed",):
        q, t = find_row(rows, "nn_qat", "8/8", condition), find_row(rows, TFLITE_REFERENCE, "8/8", condition)
        if q is None or t is None:
            continue
        statuses.append("missed" if q["rmse_ci_low"] > t["rmse_ci_high"] else "met")
        parts.append(f"{condition}: QAT {_rmse(q)} vs TFLite {_rmse(t)}")
    return Verdict("8/8 QAT at least as accurate as TFLite int8 (500 calibration profiles); met unless TFLite "
                   "is better beyond the intervals", combine_statuses(statuses), "; ".join(parts) or "rows absent")


def _best_classical(rows: list[Row], condition: str, metric: str, classical: set[str]) -> Row | None:
    candidates = [r for r in rows if r["method"] in classical and r["condition"] == condition
                  and r.get(metric) is not None]
    return min(candidates, key=lambda r: r[metric]) if candidates else None


def qat_vs_classical(rows: list[Row], classical: Iterable[str]) -> list[Verdict]:
    """QAT >= 3 bits: gross-error rate below the best classical detector on reflections and low SNR,
    and RMSE at or below the best classical RMSE at SNR <= 8."""
    classical = set(classical)
    qat_bits = sorted({r["bits"] for r in rows if r["method"] == "nn_qat" and r.get("bits")
                       and min(int(b) for part in r["bits"].split("/") for b in part.split("-")) >= 3})
    gross_status, gross_parts, rmse_status, rmse_parts = [], [], [], []
    for bits in qat_bits:
        for condition in HARD_CONDITIONS:
            q, best = find_row(rows, "nn_qat", bits, condition), _best_classical(rows, condition, "gross_error_rate",
                                                                               classical)
            if q is None or best is None:
                continue
            gross_status.append("met" if q["gross_error_rate"] < best["gross_error_rate"] else "missed")
            gross_parts.append(f"{bits} {condition}: {q['gross_error_rate']:.4f} vs {best['method']} "
                               f"{best['gross_error_rate']:.4f}")
        for condition in LOW_SNR:
            q, best = find_row(rows, "nn_qat", bits, condition), _best_classical(rows, condition, "rmse_px", classical)
            if q is None or best is None:
                continue
            rmse_status.append("met" if q["rmse_ci_high"] <= best["rmse_ci_low"] else
                               "missed" if q["rmse_ci_low"] > best["rmse_ci_high"] else "undecided")
            rmse_parts.append(f"{bits} {condition}: {_rmse(q)} vs {best['method']} {_rmse(best)}")
    return [Verdict("QAT (>= 3 bits) gross-error rate below the best classical detector (reflections, low SNR)",
                    combine_statuses(gross_status), "; ".join(gross_parts) or "rows absent"),
            Verdict("QAT (>= 3 bits) RMSE at or below the best classical detector at SNR <= 8",
                    combine_statuses(rmse_status), "; ".join(rmse_parts) or "rows absent")]


def ratio_status(ratio: float, low: float, high: float, target: float) -> str:
    """The decision rule of a ratio goal (module docstring); `not measured` for a NaN ratio."""
    if ratio is None or ratio != ratio:
        return "not measured"
    if ratio <= target and high <= target + RATIO_MARGIN:
        return "met"
    return "missed" if low > target else "undecided"


def _ratio_goal(rows: list[Row], method: str, bits: str | None, targets: dict[str, float], column: str) -> tuple[
        list[str], list[str]]:
    statuses, parts = [], []
    for condition, target in targets.items():
        row = find_row(rows, method, bits, condition)
        if row is None or row.get(column) is None:
            continue
        status = ratio_status(row[column], row[f"{column}_ci_low"], row[f"{column}_ci_high"], target)
        if status == "not measured":
            continue
        statuses.append(status)
        parts.append(f"{condition}: {row[column]:.3f} [{row[f'{column}_ci_low']:.3f}, "
                     f"{row[f'{column}_ci_high']:.3f}] vs target {target:g}")
    return statuses, parts


def _qat(method: str) -> str:
    """How a goal names the QAT networks of `method`: `QAT` for the default family, else with the method."""
    return "QAT" if method == NETWORK_METHOD else f"QAT {method}"


def network_vs_reference(rows: list[Row], bits: str = "4/4", method: str = NETWORK_METHOD) -> list[Verdict]:
    """The `bits` QAT network of `method` against the reference (BR8): RMSE ratio on the lines both find at or
    below 1 at SNR 8 and 16 and 1.3 at 32 and 64; total error (misses counted) at or below the reference's
    at every SNR from 4 to 64."""
    reference = next((r["reference"] for r in rows if r.get("reference")), "the reference")
    paired = _ratio_goal(rows, method, bits, PAIRED_RATIO_TARGETS, "rmse_ratio")
    total = _ratio_goal(rows, method, bits, dict.fromkeys(TOTAL_ERROR_CONDITIONS, 1.0), "total_error_ratio")
    return [Verdict(f"{bits} {_qat(method)} RMSE on the lines both find at or below {reference}'s (x1 at SNR 8-16, "
                    "x1.3 at 32-64; paired ratio rule)", combine_statuses(paired[0]),
                    "; ".join(paired[1]) or "rows absent"),
            Verdict(f"{bits} {_qat(method)} total error (misses counted) at or below {reference}'s at SNR 4-64 "
                    "(paired ratio rule)", combine_statuses(total[0]), "; ".join(total[1]) or "rows absent")]


def _reference_row(rows: list[Row], condition: str) -> Row | None:
    reference = next((r["reference"] for r in rows if r.get("reference")), None)
    return find_row(rows, reference, None, condition) if reference else None


def detection_goals(rows: list[Row], method: str = NETWORK_METHOD) -> list[Verdict]:
    """Issue 12's detection goals against the reference (BR8) for the networks of `method`, on point rates
    (pooled over the training seeds in study mode; the tables give rates no interval): missed lines at SNR 8
    of the 4/4 network at most half the reference's and of the 2/2 at most the reference's; gross errors of
    the 4/4 network on `reflections` at or below the reference's."""
    verdicts = []
    reference = _reference_row(rows, "snr_8")
    for bits, factor in MISS_FACTORS.items():
        q = find_row(rows, method, bits, "snr_8")
        goal = f"{bits} {_qat(method)} missed lines at SNR 8 at most {factor:g} x the reference's"
        if q is None or reference is None:
            verdicts.append(Verdict(goal, "not measured", "rows absent"))
            continue
        bound = factor * reference["miss_rate"]
        verdicts.append(Verdict(goal, "met" if q["miss_rate"] <= bound else "missed",
                                f"{q['miss_rate']:.4f} vs {factor:g} x {reference['method']} "
                                f"{reference['miss_rate']:.4f} = {bound:.4f}"))
    q, reference = find_row(rows, method, "4/4", "reflections"), _reference_row(rows, "reflections")
    goal = f"4/4 {_qat(method)} gross errors on reflections at or below the reference's"
    if q is None or reference is None:
        verdicts.append(Verdict(goal, "not measured", "rows absent"))
    else:
        verdicts.append(Verdict(goal, "met" if q["gross_error_rate"] <= reference["gross_error_rate"] else "missed",
                                f"{q['gross_error_rate']:.4f} vs {reference['method']} "
                                f"{reference['gross_error_rate']:.4f}"))
    return verdicts


def efficiency_vs_fit(rows: list[Row], bits: str = "8/8") -> Verdict:
    """The `bits` network's efficiency within `EFFICIENCY_MARGIN` of the Gaussian fit's at SNR 16-64 (ratio rule:
    the target is the fit's efficiency + the margin, the interval the network's RMSE interval over its bound)."""
    statuses, parts = [], []
    for condition in HIGH_SNR[1:]:
        q, fit = find_row(rows, "nn_qat", bits, condition), find_row(rows, FIT_METHOD, None, condition)
        if q is None or fit is None or q.get("efficiency") is None or fit.get("efficiency") is None:
            continue
        target = fit["efficiency"] + EFFICIENCY_MARGIN
        low, high = q["rmse_ci_low"] / q["crlb_px"], q["rmse_ci_high"] / q["crlb_px"]
        statuses.append(ratio_status(q["efficiency"], low, high, target))
        parts.append(f"{condition}: {q['efficiency']:.3f} [{low:.3f}, {high:.3f}] vs fit {fit['efficiency']:.3f} "
                     f"+ {EFFICIENCY_MARGIN:g}")
    return Verdict(f"{bits} QAT efficiency within {EFFICIENCY_MARGIN:g} of the Gaussian fit's at SNR 16-64 "
                   "(ratio rule)", combine_statuses([s for s in statuses if s != "not measured"]),
                   "; ".join(parts) or "rows absent")


def fit_efficiency(rows: list[Row]) -> Verdict:
    """The offline Gaussian fit within 10% of the known-parameters bound on the clean presets at SNR >= 16
    (ratio rule on RMSE / crlb_px, its interval the RMSE's bootstrap interval over the same bound)."""
    statuses, parts = [], []
    for condition in CLEAN_CONDITIONS:
        row = find_row(rows, FIT_METHOD, None, condition)
        if row is None or row.get("efficiency") is None or (preset_snr(condition) or 0) < 16:
            continue
        low, high = row["rmse_ci_low"] / row["crlb_px"], row["rmse_ci_high"] / row["crlb_px"]
        statuses.append(ratio_status(row["efficiency"], low, high, FIT_EFFICIENCY))
        parts.append(f"{condition}: {row['efficiency']:.3f} [{low:.3f}, {high:.3f}]")
    return Verdict(f"offline Gaussian fit efficiency at most {FIT_EFFICIENCY:g} on the clean presets at SNR >= 16",
                   combine_statuses([s for s in statuses if s != "not measured"]), "; ".join(parts) or "rows absent")


def bit_exactness(rows: list[Row]) -> Verdict:
    """Every implementation compared with the golden model: some values compared, no mismatch."""
    if not rows:
        return Verdict("bit-exact chain (Keras integer, MyHDL, GHDL, Icarus, Verilator vs golden)", "not measured", "")
    compared = sum(int(r["compared"]) for r in rows)
    mismatches = sum(int(r["mismatches"]) for r in rows)
    stages = sorted({str(r["stage"]).split("-")[0] for r in rows})
    empty = [r for r in rows if not int(r["compared"])]
    status = "met" if mismatches == 0 and not empty else "missed"
    return Verdict("bit-exact chain (Keras integer, MyHDL, GHDL, Icarus, Verilator vs golden)", status,
                   f"{compared:,} values compared over {len(rows)} runs ({', '.join(stages)}), "
                   f"{mismatches} mismatches")


def throughput(rows: list[Row]) -> Verdict:
    """The fewest lanes estimated (pre-route) to reach the paper's 4 Gpixel/s, per model."""
    reaching = [r for r in rows if r.get("gpix_per_s_est") is not None and r["gpix_per_s_est"] >= PAPER_GPIX_PER_S]
    if not rows:
        return Verdict("throughput against the paper's 4 Gpixel/s", "not measured", "")
    if not reaching:
        best = max(rows, key=lambda r: r.get("gpix_per_s_est") or 0)
        return Verdict("throughput against the paper's 4 Gpixel/s (pre-route estimate)", "missed",
                       f"best estimate {best['gpix_per_s_est']} Gpixel/s ({best['model']}, {best['lanes']} lanes)")
    parts = []
    for model in sorted({r["model"] for r in reaching}):
        r = min((r for r in reaching if r["model"] == model), key=lambda r: int(r["lanes"]))
        parts.append(f"{model}: {r['lanes']} lanes estimated to reach {r['gpix_per_s_est']} Gpixel/s at "
                     f"{r['f_est_mhz']} MHz, {r['luts']} LUTs, {r['ffs']} FFs, {r['dsps']} DSPs ({r['method']})")
    return Verdict("throughput against the paper's 4 Gpixel/s (pre-route estimate, not a Vivado result)", "met",
                   "; ".join(parts))


def strict_status(ratio: float | None, low: float | None, high: float | None) -> str:
    """Strictly below 1: met when the interval's upper bound is below 1, missed when its lower bound is at or
    above 1, `not measured` for an absent or NaN ratio."""
    if ratio is None or ratio != ratio:
        return "not measured"
    return "met" if high < 1.0 else "missed" if low >= 1.0 else "undecided"


def hybrid_vs_reference(rows: list[Row], bits: str = "4/4", method: str = HYBRID_METHOD,
                        network_method: str = NETWORK_METHOD) -> Verdict:
    """Issue 12's goal for the HYBRID `method` at `bits`: the paired RMSE ratio to the reference (BR8) strictly
    below 1 at SNR 8 and 16 (`strict_status`), at or below 1 at 32 and 64 (`ratio_status`), and at each of
    those SNRs missed lines at most the network-only row's of `network_method` (equal by construction: the
    hybrid's detections are its network's)."""
    reference = next((r["reference"] for r in rows if r.get("reference")), "the reference")
    statuses, parts = [], []
    for condition in STRICT_CONDITIONS + AT_OR_BELOW_CONDITIONS:
        hybrid, network = find_row(rows, method, bits, condition), find_row(rows, network_method, bits, condition)
        if hybrid is None or hybrid.get("rmse_ratio") is None:
            continue
        ratio, low, high = hybrid["rmse_ratio"], hybrid["rmse_ratio_ci_low"], hybrid["rmse_ratio_ci_high"]
        status = (strict_status(ratio, low, high) if condition in STRICT_CONDITIONS
                  else ratio_status(ratio, low, high, 1.0))
        if status == "not measured":
            continue
        statuses.append(status)
        text = f"{condition}: ratio {ratio:.3f} [{low:.3f}, {high:.3f}]"
        if network is None:
            statuses.append("undecided")
            text += ", network-only row absent"
        else:
            statuses.append("met" if hybrid["miss_rate"] <= network["miss_rate"] else "missed")
            text += f", missed {hybrid['miss_rate']:.4f} vs network-only {network['miss_rate']:.4f}"
        parts.append(text)
    named = "" if network_method == NETWORK_METHOD else f"{network_method} "
    return Verdict(f"HYBRID {method} {bits}: RMSE on the lines both find strictly below {reference}'s at SNR 8-16 "
                   "(upper bound < 1), at or below at 32-64 (paired ratio rule), missed lines at most the "
                   f"network-only {named}{bits}'s", combine_statuses(statuses), "; ".join(parts) or "rows absent")


def throughput_within_luts(rows: list[Row]) -> Verdict:
    """4 Gpixel/s within GOAL_LUTS LUTs, judged on real Yosys rows only (method `yosys`), per model.

    A model meets it when its fewest real-run lanes estimated to reach 4 Gpixel/s need at most
    GOAL_LUTS LUTs, and misses it when they need more, or when its widest real run, still short of
    4 Gpixel/s, already needs more (LUTs grow with lanes). Otherwise only scaled rows speak (the
    quick run's): *not measured*, their numbers given as a scaled estimate. The goal is met when one
    model meets it, missed when every model misses it."""
    goal = f"{PAPER_GPIX_PER_S:g} Gpixel/s within {GOAL_LUTS // 1000}k LUTs from a real Yosys run (pre-route)"
    statuses, parts = [], []
    for model in sorted({r["model"] for r in rows}):
        mine = sorted((r for r in rows if r["model"] == model), key=lambda r: int(r["lanes"]))
        real = [r for r in mine if r["method"] == "yosys"]
        reach = [r for r in real if (r.get("gpix_per_s_est") or 0) >= PAPER_GPIX_PER_S]
        if reach or (real and real[-1]["luts"] > GOAL_LUTS):
            r = reach[0] if reach else real[-1]
            statuses.append("met" if reach and r["luts"] <= GOAL_LUTS else "missed")
            parts.append(f"{model}: {r['lanes']} lanes, {r['gpix_per_s_est']} Gpixel/s, {r['luts']} LUTs (real Yosys run)")
            continue
        statuses.append("not measured")
        scaled = [r for r in mine if (r.get("gpix_per_s_est") or 0) >= PAPER_GPIX_PER_S]
        parts.append(f"{model}: scaled estimate, {scaled[0]['lanes']} lanes, {scaled[0]['gpix_per_s_est']} Gpixel/s, "
                     f"{scaled[0]['luts']} LUTs ({scaled[0]['method']}); no real Yosys run that wide" if scaled else
                     f"{model}: no row reaches {PAPER_GPIX_PER_S:g} Gpixel/s")
    status = ("met" if "met" in statuses else "not measured" if "not measured" in statuses or not statuses
              else "missed")
    return Verdict(goal, status, "; ".join(parts))


def all_verdicts(accuracy: list[Row], bitexact: list[Row], hardware: list[Row], classical: Iterable[str]) -> list[Verdict]:
    """Every goal of the study, in report order: the other families' goals after the default family's."""
    families = []
    for family in families_among((row["method"] for row in accuracy), NETWORK_METHOD):
        method = in_family(NETWORK_METHOD, family)
        families += (network_vs_reference(accuracy, "4/4", method) + detection_goals(accuracy, method)
                     + [hybrid_vs_reference(accuracy, "4/4", in_family(HYBRID_METHOD, family), method)])
    return (quantized_vs_float(accuracy) + [qat_vs_tflite(accuracy)] + qat_vs_classical(accuracy, classical)
            + network_vs_reference(accuracy) + detection_goals(accuracy) + [efficiency_vs_fit(accuracy)]
            + [hybrid_vs_reference(accuracy)] + families
            + [fit_efficiency(accuracy), bit_exactness(bitexact), throughput(hardware),
               throughput_within_luts(hardware)])

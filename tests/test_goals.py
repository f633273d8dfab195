"""Verdicts follow the intervals: met, missed or undecided, never guessed from point estimates."""
from __future__ import annotations

from workbench.evaluation.goals import (GOAL_LUTS, bit_exactness, qat_vs_tflite, quantized_vs_float, throughput,
                                       throughput_within_luts)


def _row(method, bits, condition, rmse, low, high, gross=0.0):
    return {"method": method, "bits": bits, "condition": condition, "rmse_px": rmse, "rmse_ci_low": low,
            "rmse_ci_high": high, "gross_error_rate": gross}


def _float_rows(rmse=0.1):
    return [_row("nn_float", None, c, rmse, rmse - 0.005, rmse + 0.005) for c in ("snr_8", "snr_16")]


def test_quantized_within_tolerance_is_met_only_when_the_interval_is_inside():
    rows = _float_rows() + [_row("nn_qat", "4/4", c, 0.105, 0.100, 0.109) for c in ("snr_8", "snr_16")]
    four = quantized_vs_float(rows)[0]
    assert four.status == "met"
    rows = _float_rows() + [_row("nn_qat", "4/4", c, 0.108, 0.100, 0.116) for c in ("snr_8", "snr_16")]
    assert quantized_vs_float(rows)[0].status == "undecided"
    rows = _float_rows() + [_row("nn_qat", "4/4", c, 0.13, 0.12, 0.14) for c in ("snr_8", "snr_16")]
    assert quantized_vs_float(rows)[0].status == "missed"
    assert quantized_vs_float(_float_rows())[1].status == "not measured"


def test_tflite_comparison_is_missed_only_when_tflite_is_better_beyond_the_intervals():
    qat = _row("nn_qat", "8/8", "snr_8", 0.20, 0.19, 0.21)
    assert qat_vs_tflite([qat, _row("tflite_int8_cal500", "8/8", "snr_8", 0.195, 0.185, 0.205)]).status == "met"
    assert qat_vs_tflite([qat, _row("tflite_int8_cal500", "8/8", "snr_8", 0.15, 0.14, 0.16)]).status == "missed"


def test_bit_exactness_needs_compared_values_and_no_mismatch():
    ok = {"model": "m", "stage": "myhdl-x", "compared": 10, "mismatches": 0}
    assert bit_exactness([ok]).status == "met"
    assert bit_exactness([ok, dict(ok, mismatches=1)]).status == "missed"
    assert bit_exactness([dict(ok, compared=0)]).status == "missed"
    assert bit_exactness([]).status == "not measured"


def test_throughput_names_the_fewest_lanes_reaching_the_paper():
    rows = [{"model": "m", "lanes": p, "gpix_per_s_est": 0.3 * p, "f_est_mhz": 300, "luts": 100 * p, "ffs": 1,
             "dsps": 0, "method": "yosys"} for p in (4, 16, 32)]
    verdict = throughput(rows)
    assert verdict.status == "met" and "16 lanes" in verdict.evidence
    assert throughput(rows[:1]).status == "missed"


def _hw(lanes, luts, method="yosys", model="m", mhz=150.0):
    return {"model": model, "lanes": lanes, "gpix_per_s_est": lanes * mhz / 1000, "luts": luts, "method": method}


def test_lut_goal_reads_real_yosys_rows_and_calls_scaled_ones_an_estimate():
    quick = [_hw(1, 5_000), _hw(4, 20_000), _hw(16, 80_000, "yosys-scaled"), _hw(32, 50_000, "yosys-scaled")]
    verdict = throughput_within_luts(quick)  # only a scaled row reaches 4 Gpixel/s (32 x 150 MHz), within 60k
    assert verdict.status == "not measured" and "scaled estimate, 32 lanes" in verdict.evidence
    assert throughput_within_luts(quick + [_hw(32, GOAL_LUTS)]).status == "met"  # at the budget: within it
    over = throughput_within_luts(quick + [_hw(32, GOAL_LUTS + 1)])
    assert over.status == "missed" and "32 lanes, 4.8 Gpixel/s, 60001 LUTs (real Yosys run)" in over.evidence
    short = throughput_within_luts([_hw(1, 5_000), _hw(16, GOAL_LUTS + 1)])  # 2.4 Gpixel/s, already over
    assert short.status == "missed" and "16 lanes" in short.evidence
    two = quick + [_hw(32, GOAL_LUTS + 1)] + [_hw(p, 1_000 * p, model="small") for p in (1, 32)]
    assert throughput_within_luts(two).status == "met"  # one model within the budget meets the goal
    assert throughput_within_luts([]).status == "not measured"


def test_ratio_rule_needs_the_point_at_the_target_and_the_upper_bound_within_the_margin():
    from workbench.evaluation.goals import ratio_status

    assert ratio_status(1.0, 0.95, 1.05, 1.0) == "met"          # upper bound exactly target + 0.05
    assert ratio_status(0.98, 0.9, 1.06, 1.0) == "undecided"    # upper bound beyond the margin
    assert ratio_status(1.02, 0.99, 1.04, 1.0) == "undecided"   # point above the target
    assert ratio_status(1.2, 1.1, 1.3, 1.0) == "missed"         # the whole interval above the target
    assert ratio_status(float("nan"), 0, 0, 1.0) == "not measured"


def _paired_row(condition, ratio, low, high, total=0.9, total_low=0.85, total_high=0.95):
    return {"method": "nn_qat", "bits": "4/4", "condition": condition, "reference": "br8", "rmse_ratio": ratio,
            "rmse_ratio_ci_low": low, "rmse_ratio_ci_high": high, "total_error_ratio": total,
            "total_error_ratio_ci_low": total_low, "total_error_ratio_ci_high": total_high}


def test_network_vs_reference_uses_the_targets_per_snr():
    from workbench.evaluation.goals import network_vs_reference

    rows = [_paired_row("snr_8", 0.99, 0.95, 1.03), _paired_row("snr_32", 1.25, 1.2, 1.33)]
    paired, total = network_vs_reference(rows)
    assert paired.status == "met" and "snr_32: 1.250 [1.200, 1.330] vs target 1.3" in paired.evidence
    assert "br8" in paired.goal and total.status == "met"
    rows[1] = _paired_row("snr_32", 1.25, 1.2, 1.33, total=1.1, total_low=1.02, total_high=1.2)
    assert network_vs_reference(rows)[1].status == "missed"
    rows[0] = _paired_row("snr_8", 1.25, 1.2, 1.33)            # 1.25 passes at SNR 32, not at SNR 8
    assert network_vs_reference(rows)[0].status == "missed"
    assert [v.status for v in network_vs_reference([])] == ["not measured", "not measured"]


def test_fit_efficiency_goal_covers_the_clean_presets_at_snr_16_and_above():
    from workbench.evaluation.goals import fit_efficiency

    def row(condition, rmse, low, high):
        return {"method": "gauss_fit", "bits": None, "condition": condition, "rmse_px": rmse, "rmse_ci_low": low,
                "rmse_ci_high": high, "crlb_px": 0.1, "efficiency": rmse / 0.1}

    rows = [row("snr_16", 0.105, 0.10, 0.112), row("sigma_3", 0.108, 0.10, 0.114), row("snr_8", 0.5, 0.4, 0.6)]
    verdict = fit_efficiency(rows)
    assert verdict.status == "met" and "snr_8" not in verdict.evidence and "sigma_3: 1.080" in verdict.evidence
    rows.append(row("snr_64", 0.13, 0.12, 0.14))
    assert fit_efficiency(rows).status == "missed"
    assert fit_efficiency([]).status == "not measured"


def test_detection_goals_compare_miss_and_gross_rates_with_the_reference():
    from workbench.evaluation.goals import detection_goals

    def row(method, bits, condition, miss, gross=0.0):
        return {"method": method, "bits": bits, "condition": condition, "reference": "br8", "miss_rate": miss,
                "gross_error_rate": gross}

    rows = [row("br8", None, "snr_8", 0.10), row("br8", None, "reflections", 0.01, 0.005),
            row("nn_qat", "4/4", "snr_8", 0.05), row("nn_qat", "2/2", "snr_8", 0.11),
            row("nn_qat", "4/4", "reflections", 0.0, 0.005)]
    four, two, gross = detection_goals(rows)
    assert four.status == "met" and "0.0500 vs 0.5 x br8 0.1000 = 0.0500" in four.evidence  # at the bound
    assert two.status == "missed" and gross.status == "met"
    rows[2], rows[4] = row("nn_qat", "4/4", "snr_8", 0.0501), row("nn_qat", "4/4", "reflections", 0.0, 0.0051)
    assert [v.status for v in detection_goals(rows)] == ["missed", "missed", "missed"]
    assert [v.status for v in detection_goals(rows[2:])] == ["not measured"] * 3  # no reference rows


def test_efficiency_goal_targets_the_fits_efficiency_plus_the_margin():
    from workbench.evaluation.goals import efficiency_vs_fit

    def row(method, bits, condition, efficiency, half_width=0.02):
        return {"method": method, "bits": bits, "condition": condition, "efficiency": efficiency, "crlb_px": 0.1,
                "rmse_px": efficiency * 0.1, "rmse_ci_low": (efficiency - half_width) * 0.1,
                "rmse_ci_high": (efficiency + half_width) * 0.1}

    fits = [row("gauss_fit", None, c, 1.05) for c in ("snr_16", "snr_32", "snr_64")]
    nets = [row("nn_qat", "8/8", c, 1.14) for c in ("snr_8", "snr_16", "snr_32", "snr_64")]
    verdict = efficiency_vs_fit(fits + nets)
    assert verdict.status == "met" and "snr_8" not in verdict.evidence
    nets[-1] = row("nn_qat", "8/8", "snr_64", 1.20, half_width=0.01)   # 1.20 > 1.15, lower bound 1.19 too
    assert efficiency_vs_fit(fits + nets).status == "missed"
    nets[-1] = row("nn_qat", "8/8", "snr_64", 1.16, half_width=0.05)   # point above, interval straddles
    assert efficiency_vs_fit(fits + nets).status == "undecided"
    assert efficiency_vs_fit(fits).status == "not measured"


def test_every_other_family_gets_the_issue_12_goals_read_from_its_own_rows():
    from workbench.evaluation.goals import all_verdicts

    def row(method, bits, condition, ratio, miss, gross=0.0):
        return {**_paired_row(condition, ratio, ratio - 0.02, ratio + 0.02, ratio, ratio - 0.02, ratio + 0.02),
                "method": method, "bits": bits, "miss_rate": miss, "gross_error_rate": gross}

    conditions = ("snr_8", "snr_16", "snr_32", "snr_64", "reflections")
    rows = [row("br8", None, c, 1.0, 0.10, 0.01) for c in conditions]
    rows += [row("nn_qat", "4/4", c, 0.9, 0.04) for c in conditions]        # the default meets its goals
    rows += [row("nn_qat_reach", "4/4", c, 1.5, 0.20, 0.02) for c in conditions]  # the family misses them
    rows += [row("hybrid_adaptive_reach", "4/4", c, 0.8, 0.20) for c in conditions]
    base = all_verdicts([r for r in rows if "reach" not in r["method"]], [], [], ["br8"])
    verdicts = {v.goal: v for v in all_verdicts(rows, [], [], ["br8"])}
    added = [goal for goal in verdicts if goal not in {v.goal for v in base}]
    assert len(verdicts) == len(base) + 6 and all("reach" in goal for goal in added)
    for goal in ("4/4 QAT RMSE on the lines both find at or below br8's (x1 at SNR 8-16, x1.3 at 32-64; paired ratio "
                 "rule)", "4/4 QAT missed lines at SNR 8 at most 0.5 x the reference's"):
        family = goal.replace("QAT", "QAT nn_qat_reach")
        assert verdicts[goal].status == "met" and verdicts[family].status == "missed", verdicts[family]
        assert verdicts[goal].evidence != verdicts[family].evidence
    assert "0.2000 vs 0.5 x br8 0.1000" in verdicts["4/4 QAT nn_qat_reach missed lines at SNR 8 at most 0.5 x the "
                                                     "reference's"].evidence
    assert verdicts["4/4 QAT nn_qat_reach gross errors on reflections at or below the reference's"].status == "missed"
    hybrid = next(v for goal, v in verdicts.items() if goal.startswith("HYBRID hybrid_adaptive_reach 4/4"))
    assert hybrid.status == "met" and hybrid.evidence.count("missed 0.2000 vs network-only 0.2000") == 4
    assert "network-only nn_qat_reach 4/4's" in hybrid.goal

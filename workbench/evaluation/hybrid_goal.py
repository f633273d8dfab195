"""Issue 12's goal for the HYBRID detector, judged from the accuracy rows like the goals of `goals`.

"Best hybrid 4/4: on common lines strictly better than BR8 at SNR 8 and 16 (the upper bound of the ratio
below 1) and at or below it at 32 and 64, with missed lines no higher than the network-only 4/4's."

- SNR 8 and 16 (`STRICT_CONDITIONS`): met when the upper bound of the paired RMSE ratio's 95% interval is
  below 1, missed when its lower bound is at or above 1, undecided otherwise;
- SNR 32 and 64 (`AT_OR_BELOW_CONDITIONS`): the ratio rule of `goals.ratio_status` with target 1;
- missed lines: at each of those SNRs the hybrid's miss rate at most the network-only row's (`nn_qat`, same
  bits; the hybrid's detections are its network's, so the two are equal unless something is wrong).

Kept apart from `goals` (whose module run_all's training stage reaches) so that adding it changed no cache
key of an existing stage; the report stage adds its verdict to the others.
"""
from __future__ import annotations

from workbench.evaluation.goals import Row, Verdict, _combine, _find, ratio_status

HYBRID_METHOD = "hybrid_adaptive"
NETWORK_METHOD = "nn_qat"
STRICT_CONDITIONS = ("snr_8", "snr_16")
AT_OR_BELOW_CONDITIONS = ("snr_32", "snr_64")


def strict_status(ratio: float | None, low: float | None, high: float | None) -> str:
    """Strictly below 1: met when the interval's upper bound is below 1, missed when its lower bound is at or
    above 1, `not measured` for an absent or NaN ratio."""
    if ratio is None or ratio != ratio:
        return "not measured"
    return "met" if high < 1.0 else "missed" if low >= 1.0 else "undecided"


def hybrid_vs_reference(rows: list[Row], bits: str = "4/4", method: str = HYBRID_METHOD) -> Verdict:
    """The issue-12 hybrid goal for the `method` rows at `bits` against the reference (BR8) and the network."""
    reference = next((r["reference"] for r in rows if r.get("reference")), "the reference")
    statuses, parts = [], []
    for condition in STRICT_CONDITIONS + AT_OR_BELOW_CONDITIONS:
        hybrid, network = _find(rows, method, bits, condition), _find(rows, NETWORK_METHOD, bits, condition)
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
    return Verdict(f"HYBRID {method} {bits}: RMSE on the lines both find strictly below {reference}'s at SNR 8-16 "
                   "(upper bound < 1), at or below at 32-64 (paired ratio rule), missed lines at most the "
                   f"network-only {bits}'s", _combine(statuses), "; ".join(parts) or "rows absent")

"""Fair comparisons and the yardstick columns on hand-made cases whose answers are known."""
import math

import numpy as np
import pytest

from workbench.evaluation.comparison import (paired_comparison, paired_comparison_over_seeds, ratio_of_means,
                                           ratio_of_means_over_seeds)
from workbench.evaluation.metrics import bootstrap_means, capped_squared_errors, compute_metrics, seed_bootstrap_means

NAN = float("nan")
CENTRE = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, NAN])
EMPTY = np.isnan(CENTRE)


def test_total_error_caps_errors_and_counts_misses_as_one():
    found = np.array([True, True, True, False, True, True, True])
    pos = np.array([10.5, 17.0, 30.0, 0.0, 50.2, 60.9, 3.0])
    losses = capped_squared_errors(found, pos, CENTRE, EMPTY)
    np.testing.assert_allclose(losses, [0.25, 1.0, 0.0, 1.0, 0.04, 0.81])
    m = compute_metrics(found, pos, CENTRE, EMPTY, draws=20)
    assert m.total_error == pytest.approx((0.25 + 1 + 0 + 1 + 0.04 + 0.81) / 6)
    assert compute_metrics(np.zeros(7, bool), pos, CENTRE, EMPTY, draws=20).total_error == 1.0


def test_crlb_px_and_efficiency_use_the_lines_the_rmse_uses():
    found = np.array([True, True, False, True, True, True, False])
    pos = np.array([10.2, 25.0, 0.0, 40.1, 49.9, 60.0, 0.0])
    crlb = np.array([0.01, 100.0, 100.0, 0.04, 0.04, 0.03, NAN])   # lines 2 (gross) and 3 (missed) not used
    m = compute_metrics(found, pos, CENTRE, EMPTY, draws=20, crlb=crlb, crlb_free=2 * crlb)
    assert m.n_good == 4
    assert m.crlb_px == pytest.approx(math.sqrt(0.12 / 4)) and m.crlb_free_px == pytest.approx(math.sqrt(0.24 / 4))
    assert m.efficiency == pytest.approx(math.sqrt((0.04 + 0.01 + 0.01 + 0.0) / 4) / math.sqrt(0.03))
    assert math.isnan(compute_metrics(found, pos, CENTRE, EMPTY, draws=20).efficiency)


def test_paired_ratio_of_a_method_with_itself_is_exactly_one():
    rng = np.random.default_rng(0)
    centre = rng.uniform(10, 50, 400)
    empty = np.zeros(400, bool)
    found = rng.uniform(size=400) < 0.9
    pos = centre + rng.normal(0, 0.2, 400)
    p = paired_comparison(found, pos, found, pos, centre, empty, reference="same", draws=200)
    assert p.paired_n == int((found & (np.abs(pos - centre) <= 1)).sum()) > 300
    assert (p.rmse_ratio, p.rmse_ratio_ci_low, p.rmse_ratio_ci_high) == (1.0, 1.0, 1.0)
    assert (p.total_error_ratio, p.total_error_ratio_ci_low, p.total_error_ratio_ci_high) == (1.0, 1.0, 1.0)


def test_paired_ratio_on_the_same_lines_recovers_a_known_scale_and_ignores_lines_one_misses():
    rng = np.random.default_rng(1)
    centre, empty = rng.uniform(10, 50, 3000), np.zeros(3000, bool)
    noise = rng.normal(0, 0.1, 3000)
    reference_found = np.ones(3000, bool)
    found = reference_found.copy()
    found[:1000] = False                                  # the method misses a third: not in the pair
    p = paired_comparison(found, centre + 2 * noise, reference_found, centre + noise, centre, empty,
                          reference="ref", draws=300)
    assert p.paired_n == 2000
    assert p.rmse_ratio == pytest.approx(2.0)             # exactly twice the error on every common line
    assert p.rmse_ratio_ci_low == pytest.approx(2.0) and p.rmse_ratio_ci_high == pytest.approx(2.0)
    # total error: a third of the lines cost 1 each for the method, ~0.01 for the reference
    expected = (1000 + np.sum(np.minimum(4 * noise[1000:] ** 2, 1))) / np.sum(noise**2)
    assert p.total_error_ratio == pytest.approx(expected)
    assert p.total_error_ratio_ci_low < expected < p.total_error_ratio_ci_high


def test_paired_comparison_of_disjoint_lines_and_of_all_missed():
    found = np.array([True, True, True, False, False, False, False])
    reference_found = ~found & ~EMPTY
    pos = CENTRE + 0.1
    p = paired_comparison(found, pos, reference_found, pos, CENTRE, EMPTY, reference="ref", draws=50)
    assert p.paired_n == 0 and math.isnan(p.rmse_ratio) and math.isnan(p.rmse_ratio_ci_high)
    # each misses half: method 3 misses (3 + 3 * 0.01), reference 3 misses (3 + 3 * 0.01)
    assert p.total_error_ratio == pytest.approx(1.0)
    none = np.zeros(7, bool)
    q = paired_comparison(none, pos, reference_found, pos, CENTRE, EMPTY, reference="ref", draws=50)
    assert q.paired_n == 0 and q.total_error_ratio == pytest.approx(6 / (3 * 0.01 + 3))
    both_missed = paired_comparison(none, pos, none, pos, CENTRE, EMPTY, reference="ref", draws=50)
    assert both_missed.total_error_ratio == 1.0


def test_ratio_of_means_interval_is_paired():
    rng = np.random.default_rng(2)
    b = rng.exponential(1.0, 500)
    a = 1.5 * b                                           # perfectly paired: no spread in the ratio
    assert ratio_of_means(a, b, 100) == pytest.approx((1.5, 1.5, 1.5))
    unpaired = ratio_of_means(1.5 * rng.permutation(b), b, 100)
    assert unpaired[2] - unpaired[1] > 0.1
    assert all(math.isnan(v) for v in ratio_of_means(np.array([]), np.array([]), 10))


def test_evaluate_adds_the_bound_and_the_paired_columns():
    from workbench.data.datasets import Dataset
    from workbench.data.signals import generate, preset
    from workbench.detectors.classical import make_detector
    from workbench.evaluation.tables import evaluate

    cfg = preset("snr_32", length=64)
    sets = {"snr_32": Dataset(*generate(cfg, 300, 3), {"config": cfg.to_dict(), "seed": 3, "n": 300})}
    br8, argmax = make_detector("br8", threshold=10.0), make_detector("argmax", threshold=10.0)
    rows, _ = evaluate([br8, argmax], sets, draws=50, reference=br8)
    own, other = rows
    assert own["reference"] == "br8" and (own["rmse_ratio"], own["total_error_ratio"]) == (1.0, 1.0)
    assert 0.02 < own["crlb_px"] < 0.1 and own["efficiency"] == pytest.approx(own["rmse_px"] / own["crlb_px"])
    assert own["crlb_free_px"] > own["crlb_px"]
    assert other["paired_n"] > 200 and other["rmse_ratio"] > 2.0  # argmax has no sub-pixel refinement
    assert other["rmse_ratio_ci_low"] <= other["rmse_ratio"] <= other["rmse_ratio_ci_high"]


def test_report_shows_efficiency_paired_ratio_and_total_error(tmp_path):
    from experiments.stages.report import yardstick_section
    from workbench.evaluation.plots import plot_metric_vs_snr

    rows = [{"method": m, "bits": None, "condition": c, "snr": float(c[4:]), "rmse_px": r, "crlb_px": 0.1,
             "efficiency": r / 0.1, "reference": "br8", "rmse_ratio": q, "rmse_ratio_ci_low": q - 0.1,
             "rmse_ratio_ci_high": q + 0.1, "total_error": t, "total_error_ratio": t / 0.2,
             "total_error_ratio_ci_low": 1.0, "total_error_ratio_ci_high": 2.0}
            for m, r, q, t in (("br8", 0.12, 1.0, 0.2), ("cog", 0.25, 1.75, 0.3)) for c in ("snr_8", "snr_16")]
    text = yardstick_section(rows)
    assert "| cog | 2.5 | 2.5 |" in text and "| br8 | 1.2 | 1.2 |" in text
    assert "1.750 [1.650, 1.850]" in text and "0.3 (x1.5 [1, 2])" in text
    path = plot_metric_vs_snr(rows, "rmse_px", tmp_path / "rmse.png", "RMSE", "t", bound="crlb_px")
    assert path.stat().st_size > 1000


def test_report_names_the_test_seeds_and_logs_every_lockbox_use(tmp_path):
    import json
    import logging

    from experiments.stages.report import LOCKBOX_LOG, seeds_section
    from workbench.pipeline.stages import RunConfig, StageContext

    folder = tmp_path / "datasets"
    folder.mkdir()
    entry = {"seed": 11, "n": 300}
    index = {"train": entry, "val": {"seed": 12, "n": 100}, "test": {"snr_8": {"seed": 13, "n": 300}},
             "val_conditions": {"snr_8": entry}, "test_split": "test"}
    (folder / "datasets.json").write_text(json.dumps(index))
    (folder / "stage.json").write_text(json.dumps({"key": "abc"}))
    cache = tmp_path / "cache" / "stages"

    def section(lockbox: bool) -> str:
        ctx = StageContext("report", tmp_path, {"datasets": folder}, RunConfig("quick", 2023, lockbox), {},
                           logging.getLogger("t"), cache)
        return seeds_section(ctx)

    text = section(False)
    assert "| snr_8 | 13 | 300 |" in text and "development" in text and not (cache.parent / LOCKBOX_LOG).exists()
    index["test_split"] = "lockbox"
    (folder / "datasets.json").write_text(json.dumps(index))
    section(True)
    text = section(True)
    assert "LOCKBOX" in text and text.count("datasets_key=abc") == 2
    assert len((cache.parent / LOCKBOX_LOG).read_text().splitlines()) == 2


def test_seed_bootstrap_with_one_seed_is_the_profile_bootstrap_draw_for_draw():
    rng = np.random.default_rng(3)
    b = rng.exponential(1.0, 300)
    a = b * rng.lognormal(0, 0.3, 300)
    one = ratio_of_means_over_seeds([a], [b], 200, seed=5)
    assert one == ratio_of_means(a, b, 200, seed=5)
    np.testing.assert_array_equal(seed_bootstrap_means([[a, b]], 200, 5), bootstrap_means([a, b], 200, 5))


def test_seed_bootstrap_interval_of_seeds_that_disagree_is_known():
    # within each seed every profile has the same ratio, so only the seed draw varies: the mean of 3 seeds
    # drawn with replacement from ratios {1, 2, 3}; P(all three are 1) = P(all are 3) = 1/27 > 2.5 %
    b = [np.ones(50)] * 3
    a = [np.full(50, 1.0), np.full(50, 2.0), np.full(50, 3.0)]
    assert ratio_of_means_over_seeds(a, b, 2000, seed=0) == (2.0, 1.0, 3.0)
    samples = seed_bootstrap_means([[x, y] for x, y in zip(a, b)], 2000, 0)
    assert set(np.round(3 * samples[0]).astype(int)) == set(range(3, 10))   # every sum of 3 ratios from {1,2,3}
    assert np.mean(samples[0] == 1.0) == pytest.approx(1 / 27, abs=0.015)
    # seeds that agree give no seed spread at all
    assert ratio_of_means_over_seeds([a[1]] * 3, b, 500) == (2.0, 2.0, 2.0)


def test_seed_bootstrap_widens_when_seeds_disagree_and_contains_the_true_ratio():
    rng = np.random.default_rng(4)
    b = [rng.exponential(1.0, 2000) for _ in range(3)]
    noise = [rng.lognormal(0, 0.2, 2000) for _ in range(3)]
    agree = ratio_of_means_over_seeds([2.0 * x * n for x, n in zip(b, noise)], b, 1000)
    disagree = ratio_of_means_over_seeds([r * x * n for r, x, n in zip((1.6, 2.0, 2.4), b, noise)], b, 1000)
    for ratio, low, high in (agree, disagree):
        assert low < 2.0 * np.exp(0.02) < high            # E[lognormal(0, 0.2)] = exp(0.02)
        assert ratio == pytest.approx(2.0 * np.exp(0.02), rel=0.05)
    assert disagree[2] - disagree[1] > 5 * (agree[2] - agree[1])
    assert ratio_of_means_over_seeds([np.array([]), 3 * b[0]], [np.array([]), b[0]], 100)[0] == pytest.approx(3.0)


def test_paired_comparison_over_seeds_pools_the_seeds_mean_squared_errors():
    rng = np.random.default_rng(5)
    centre, empty = rng.uniform(10, 50, 1000), np.zeros(1000, bool)
    noise = rng.normal(0, 0.05, 1000)
    everything = np.ones(1000, bool)
    seeds = [(everything, centre + k * noise) for k in (1.0, 2.0, 3.0)]   # errors 1x, 2x, 3x the reference's
    p = paired_comparison_over_seeds(seeds, everything, centre + noise, centre, empty, reference="ref", draws=2000)
    assert p.paired_n == 1000
    assert p.rmse_ratio == pytest.approx(np.sqrt((1 + 4 + 9) / 3))
    assert (p.rmse_ratio_ci_low, p.rmse_ratio_ci_high) == pytest.approx((1.0, 3.0))
    single = paired_comparison(*seeds[1], everything, centre + noise, centre, empty, reference="ref", draws=2000)
    same = paired_comparison_over_seeds([seeds[1]] * 3, everything, centre + noise, centre, empty, reference="ref",
                                        draws=2000)
    assert same.rmse_ratio == pytest.approx(single.rmse_ratio) == pytest.approx(2.0)

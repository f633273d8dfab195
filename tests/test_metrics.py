"""Metrics on hand-computed cases."""
import math

import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.evaluation.metrics import bootstrap_rmse_ci, compute_metrics, s_curve, subpixel_phase

NAN = float("nan")


def test_rates_rmse_and_bias_by_hand():
    centre = np.array([10.0, 20.0, 30.0, 40.0, 50.0, NAN, NAN, NAN, NAN])
    empty = np.isnan(centre)
    found = np.array([True, True, True, False, True, True, False, False, False])
    pos = np.array([10.1, 19.7, 32.0, 0.0, 50.2, 5.0, 0.0, 0.0, 0.0])
    m = compute_metrics(found, pos, centre, empty, draws=200)
    assert (m.n, m.n_empty, m.n_good) == (9, 4, 3)
    assert m.miss_rate == pytest.approx(1 / 5)
    assert m.gross_error_rate == pytest.approx(1 / 5)  # |32 - 30| > 1
    assert m.false_alarm_rate == pytest.approx(1 / 4)
    errors = np.array([0.1, -0.3, 0.2])
    assert m.rmse_px == pytest.approx(math.sqrt(np.mean(errors**2)))
    assert m.bias_px == pytest.approx(errors.mean())
    assert m.rmse_ci_low <= m.rmse_px <= m.rmse_ci_high


def test_exactly_one_pixel_is_not_gross():
    m = compute_metrics(np.array([True]), np.array([11.0]), np.array([10.0]), np.array([False]))
    assert m.gross_error_rate == 0.0 and m.rmse_px == pytest.approx(1.0)


def test_nan_when_nothing_to_count():
    m = compute_metrics(np.array([False]), np.array([0.0]), np.array([3.0]), np.array([False]))
    assert math.isnan(m.false_alarm_rate) and math.isnan(m.rmse_px) and m.miss_rate == 1.0


def test_bootstrap_is_seeded_and_covers_the_truth():
    rng = np.random.default_rng(1)
    errors = rng.normal(0.0, 0.1, 2000)
    a, b = bootstrap_rmse_ci(errors, 300, seed=4), bootstrap_rmse_ci(errors, 300, seed=4)
    assert a == b
    assert a[0] < 0.1 < a[1] and a[1] - a[0] < 0.01
    constant = bootstrap_rmse_ci(np.full(50, 0.2), 100)
    assert constant == pytest.approx((0.2, 0.2))
    with pytest.raises(ConfigError, match="draws 0"):
        bootstrap_rmse_ci(errors, 0)


def test_subpixel_phase_and_s_curve():
    np.testing.assert_allclose(subpixel_phase(np.array([3.2, 3.7, 4.5, 5.0])), [0.2, -0.3, -0.5, 0.0])
    centre = np.array([10.1, 10.2, 10.9, 20.6, 30.0])
    pos = np.array([10.0, 10.0, 11.0, 21.0, 30.0])  # integer estimates: bias = -phase
    empty = np.zeros(5, dtype=bool)
    found = np.ones(5, dtype=bool)
    centres, bias, count = s_curve(found, pos, centre, empty, bins=2)
    np.testing.assert_allclose(centres, [-0.25, 0.25])
    assert count.tolist() == [2, 3]
    np.testing.assert_allclose(bias, [np.mean([0.1, 0.4]), np.mean([-0.1, -0.2, 0.0])])


def test_shape_mismatch_raises():
    with pytest.raises(ConfigError, match="shapes"):
        compute_metrics(np.ones(3, bool), np.zeros(2), np.zeros(3), np.zeros(3, bool))


def test_evaluation_rows_csv_roundtrip_merge_and_worker_independence(tmp_path):
    from workbench.detectors.classical import make_detector
    from workbench.data.datasets import Dataset
    from workbench.evaluation.tables import ACCURACY_COLUMNS, evaluate, merge_csv, read_csv, write_csv
    from workbench.data.signals import generate, preset

    configs = {name: preset(name, length=64) for name in ("snr_8", "mixed")}
    sets = {name: Dataset(*generate(cfg, 150, i), {"config": cfg.to_dict(), "seed": i, "n": 150})
            for i, (name, cfg) in enumerate(configs.items())}
    detectors = [make_detector("argmax"), make_detector("cog", 2)]
    rows, curves = evaluate(detectors, sets, draws=50, s_curve_conditions=("snr_8",))
    rows2, curves2 = evaluate(detectors, sets, draws=50, s_curve_conditions=("snr_8",), workers=2)
    assert str(rows) == str(rows2)  # NaN-safe equality
    assert [(r["method"], r["condition"], r["snr"]) for r in rows] == [
        ("argmax", "snr_8", 8.0), ("argmax", "mixed", None), ("cog", "snr_8", 8.0), ("cog", "mixed", None)]
    assert len(curves) == 2 * 20 and curves == curves2
    write_csv(rows[:2], tmp_path / "accuracy_a.csv")
    write_csv(rows[2:], tmp_path / "accuracy_b.csv")
    merged = merge_csv([tmp_path / "accuracy_a.csv", tmp_path / "accuracy_b.csv"], tmp_path / "accuracy.csv")
    assert merged == read_csv(tmp_path / "accuracy.csv") and len(merged) == 4
    assert list(merged[0])[: len(ACCURACY_COLUMNS)] == list(ACCURACY_COLUMNS)
    assert merged[0]["bits"] is None and merged[1]["snr"] is None and merged[0]["snr"] == 8
    assert merged[2]["rmse_px"] == pytest.approx(rows[2]["rmse_px"], rel=1e-5)

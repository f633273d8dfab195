"""The golden model against the conformance cases and against the naive reference."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import TESTS
from reference_qnn import reference_head, reference_scores
from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.golden import conv, conv_worst, exact_dtype, layer_outputs, network_dtype, rdiv, run_golden
from workbench.qnn.randnet import random_document
from workbench.errors import ConfigError


def test_conformance_cases_match_exactly(conformance_case):
    net = load_network(conformance_case["document"])
    profiles = np.array(conformance_case["profiles"])
    result = run_golden(net, profiles)
    expected = conformance_case["expected"]
    np.testing.assert_array_equal(result.scores, np.array(expected["scores"], dtype=np.int64))
    np.testing.assert_array_equal(result.found, np.array(expected["found"]))
    np.testing.assert_array_equal(result.pos, np.array(expected["pos"], dtype=np.int64))
    assert result.scores.size == profiles.size > 0


def _perturbed(doc: dict) -> dict:
    """The document with the score layer's centre-tap weight of channel 0 moved by 1."""
    doc = copy.deepcopy(doc)
    last = doc["layers"][-1]
    row = last["weights"][0] if last["type"] == "qdense" else last["weights"][last["kernel_size"] // 2][0]
    limit = (1 << (last["weight_bits"] - 1)) - 1
    row[0] = row[0] - 1 if row[0] > -limit else row[0] + 1
    return fill_ranges(doc)


def test_negative_control_one_weight_changes_the_scores(conformance_case):
    net = load_network(_perturbed(conformance_case["document"]))
    profiles = np.array(conformance_case["profiles"])
    scores = run_golden(net, profiles).scores
    mismatches = int((scores != np.array(conformance_case["expected"]["scores"])).sum())
    assert mismatches > 0


def test_rdiv_rounds_half_away_from_zero():
    num = np.array([1, -1, 3, -3, 5, 0, 7])
    den = np.array([2, 2, 2, 2, 0, 3, 7])
    np.testing.assert_array_equal(rdiv(num, den, 0), [1, -1, 2, -2, 0, 0, 1])
    np.testing.assert_array_equal(rdiv(np.array([1]), np.array([4]), 1), [1])  # 0.5 -> 1 in 2^-1 units


def _adversarial_profiles(rng: np.random.Generator, bits: int, length: int) -> np.ndarray:
    full = (1 << bits) - 1
    rows = [np.zeros(length), np.full(length, full), rng.integers(0, full + 1, size=length),
            np.where(np.arange(length) % 2 == 0, full, 0), np.eye(1, length, 0)[0] * full,
            np.eye(1, length, length - 1)[0] * full]
    return np.array(rows, dtype=np.int64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 24), extreme=st.booleans())
def test_golden_equals_naive_reference_on_random_networks(seed, length, extreme):
    rng = np.random.default_rng(seed)
    doc = random_document(rng, extreme_weights=extreme)
    net = load_network(doc)
    profiles = _adversarial_profiles(rng, net.input_bits, length)
    result = run_golden(net, profiles)
    want_scores = np.array([reference_scores(doc, p.tolist()) for p in profiles], dtype=np.int64)
    want_head = [reference_head(doc["head"], s.tolist()) for s in want_scores]
    np.testing.assert_array_equal(result.scores, want_scores)
    np.testing.assert_array_equal(result.found, [h[0] for h in want_head])
    np.testing.assert_array_equal(result.pos, [h[1] for h in want_head])
    assert result.scores.size == profiles.size


def _assert_equals_reference(doc: dict, profiles: np.ndarray) -> int:
    """Golden scores and head results equal the naive reference; returns the number of compared values."""
    result = run_golden(load_network(doc), profiles)
    want_scores = np.array([reference_scores(doc, p.tolist()) for p in profiles], dtype=np.int64)
    want_head = [reference_head(doc["head"], s.tolist()) for s in want_scores]
    np.testing.assert_array_equal(result.scores, want_scores)
    np.testing.assert_array_equal(result.found, [h[0] for h in want_head])
    np.testing.assert_array_equal(result.pos, [h[1] for h in want_head])
    return result.scores.size + 2 * len(profiles)


def _with_score_offset(doc: dict, offset: int) -> dict:
    """The document with `offset` added to the score layer's bias (its bounds move by `offset`)."""
    doc["layers"][-1]["bias"] = [b + offset for b in doc["layers"][-1]["bias"]]
    return fill_ranges(doc)


ACCUMULATOR_PATHS = [  # type, random_document settings, range of a score-bias offset that forces the type
    ("int16", {"input_bits": 8, "bits": (2, 3), "max_channels": 2, "kernel_sizes": (1, 3)}, (-(1 << 12), 1 << 12)),
    ("float32", {"input_bits": 8, "bits": (2, 4), "max_channels": 3}, (1 << 16, 1 << 22)),  # beyond 2^15
    ("float64", {}, (1 << 24, 1 << 50)),  # beyond 2^24: float32 would round the scores
]


@pytest.mark.parametrize("kind, options, offsets", ACCUMULATOR_PATHS, ids=[p[0] for p in ACCUMULATOR_PATHS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 24), data=st.data())
def test_each_network_accumulator_type_equals_reference(kind, options, offsets, seed, length, data):
    """The network's bounds choose int16, float32 or float64; each gives the reference's scores and head."""
    rng = np.random.default_rng(seed)
    doc = _with_score_offset(random_document(rng, **options), data.draw(st.integers(*offsets)))
    assert network_dtype(load_network(doc)).__name__ == kind
    profiles = _adversarial_profiles(rng, doc["input"]["bits"], length)
    assert _assert_equals_reference(doc, profiles) == profiles.size + 2 * len(profiles)


@pytest.mark.parametrize("magnitude, kind", [(1, "float32"), (1 << 30, "float64"), (1 << 53, "int64")])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 24))
def test_conv_equals_reference_in_every_accumulator_type(magnitude, kind, seed, length):
    """`conv` picks its type from the claimed input magnitude; every type gives the reference's sums."""
    rng = np.random.default_rng(seed)
    doc = random_document(rng, n_weight_layers=1)
    layer = load_network(doc).layers[0]
    assume(np.abs(layer.weights).any())
    magnitude = max(magnitude, (1 << doc["input"]["bits"]) - 1)
    assert exact_dtype(conv_worst(layer, magnitude)).__name__ == kind
    profiles = _adversarial_profiles(rng, doc["input"]["bits"], length)
    want = np.array([reference_scores(doc, p.tolist()) for p in profiles], dtype=np.int64)
    got = conv(layer, profiles[:, :, None], magnitude)
    np.testing.assert_array_equal(got[:, :, 0], want)
    assert got.size == want.size == profiles.size
    perturbed = load_network(_perturbed(doc)).layers[0]
    assert (conv(perturbed, profiles[:, :, None], magnitude)[:, :, 0] != want).any()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_value_stays_inside_its_declared_range(seed):
    rng = np.random.default_rng(seed)
    net = load_network(random_document(rng, extreme_weights=bool(seed % 2)))
    profiles = _adversarial_profiles(rng, net.input_bits, 16)
    for layer, out in zip(net.layers, layer_outputs(net, profiles)):
        low = getattr(layer, "acc_min", None)
        if low is not None:
            assert (out >= layer.acc_min).all() and (out <= layer.acc_max).all()
        else:
            assert (out >= layer.lo).all() and (out <= layer.hi).all()


def test_wide_case_really_exceeds_float32_precision():
    case = json.loads((TESTS / "conformance" / "wide_values.json").read_text())
    expected = np.array(case["expected"]["scores"], dtype=np.int64)
    assert np.abs(expected).max() > 2**24
    assert (expected.astype(np.float32).astype(np.int64) != expected).any()


def test_int64_path_for_huge_biases():
    doc = random_document(np.random.default_rng(3), n_weight_layers=1, input_bits=8)
    doc["layers"][0]["bias"] = [(1 << 52) - 10_000]
    net = load_network(fill_ranges(doc))
    profile = np.full((1, 8), 255)
    want = reference_scores(fill_ranges(doc), profile[0].tolist())
    np.testing.assert_array_equal(run_golden(net, profile).scores[0], want)


@pytest.mark.parametrize("profiles, message", [
    (np.zeros((3,), dtype=np.int64), "2-D"),
    (np.full((1, 4), 256), "outside the 8-bit"),
    (np.full((1, 4), -1), "outside the 8-bit"),
    (np.zeros((1, 4)), "integers"),
])
def test_bad_profiles_are_rejected(profiles, message):
    doc = random_document(np.random.default_rng(0), input_bits=8)
    with pytest.raises(ConfigError, match=message):
        run_golden(load_network(doc), profiles)

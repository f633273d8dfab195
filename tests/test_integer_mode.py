"""Exact equality of the Keras integer mode and the golden model, each with a negative control.

Every comparison is `np.testing.assert_array_equal` with no tolerance; each test counts the values it
compared (so it cannot pass on an empty comparison) and checks that changing one weight or multiplier
by 1 in the Keras model produces mismatches.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from qat_fixtures import adversarial_profiles, mutate_keras, observable_mutation, tiny_data, tiny_trained  # noqa: E402
from workbench.qnn import golden  # noqa: E402
from workbench.qnn.contract import load_network  # noqa: E402
from workbench.nn.export import HeadConfig, export_document  # noqa: E402
from workbench.nn.integer_mode import integer_scores, model_from_document, set_integer_mode  # noqa: E402
from workbench.qnn.randnet import random_document  # noqa: E402

CASES = sorted((Path(__file__).parent / "conformance").glob("*.json"))
FLOAT32_EXACT = 1 << 24


def compare(model, network, profiles) -> int:
    """Assert Keras integer scores and head results equal the golden ones; returns the values compared."""
    keras_scores = integer_scores(model, profiles)
    reference = golden.run_golden(network, profiles)
    np.testing.assert_array_equal(keras_scores, reference.scores)
    found, pos = golden.peak_head(network.head, keras_scores)
    np.testing.assert_array_equal(found, reference.found)
    np.testing.assert_array_equal(pos, reference.pos)
    compared = keras_scores.size + found.size + pos.size
    assert compared == profiles.size + 2 * len(profiles) > 0
    return compared


def negative_control(model, doc, network, profiles) -> int:
    """Change one weight or multiplier by 1 in the Keras model: the scores must then mismatch."""
    mutation = observable_mutation(doc, profiles)
    mutate_keras(model, doc, mutation)
    mismatches = int(np.sum(integer_scores(model, profiles) != golden.scores(network, profiles)))
    assert mismatches > 0, f"mutation {mutation} went unnoticed"
    return mismatches


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_conformance_cases(case_path):
    case = json.loads(case_path.read_text())
    profiles = np.array(case["profiles"], dtype=np.int64)
    network = load_network(case["document"])
    model = model_from_document(case["document"])
    compared = compare(model, network, profiles)
    np.testing.assert_array_equal(integer_scores(model, profiles), np.array(case["expected"]["scores"]))
    np.testing.assert_array_equal(golden.peak_head(network.head, integer_scores(model, profiles))[1],
                                  case["expected"]["pos"])
    assert compared >= profiles.size
    assert negative_control(model, case["document"], network, profiles) > 0


def test_conformance_cases_exist():
    assert len(CASES) >= 5


def check_random_network(seed: int, extreme: bool, input_bits: int | None, length: int) -> tuple[int, int]:
    """One property example: returns (values compared, largest absolute internal value)."""
    rng = np.random.default_rng(seed)
    doc = random_document(rng, extreme_weights=extreme, input_bits=input_bits, max_channels=4,
                          kernel_sizes=(1, 3, 5, 7))
    network = load_network(doc)
    profiles = adversarial_profiles(rng, network.input_bits, 4, length)
    model = model_from_document(doc)
    compared = compare(model, network, profiles)
    largest = max(int(np.abs(out).max()) for out in golden.layer_outputs(network, profiles))
    prods = [np.abs(layer.prod_max).max() for layer in network.layers if hasattr(layer, "prod_max")]
    negative_control(model, doc, network, profiles)
    return compared, max([largest, *map(int, prods)])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), extreme=st.booleans(), input_bits=st.sampled_from([None, 8, 12]),
       length=st.integers(1, 40))
def test_random_networks_quick(seed, extreme, input_bits, length):
    compared, _ = check_random_network(seed, extreme, input_bits, length)
    assert compared > 0


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), extreme=st.booleans(), input_bits=st.sampled_from([None, 8, 10, 12]),
       length=st.integers(1, 300))
def test_random_networks_thorough(seed, extreme, input_bits, length):
    compared, _ = check_random_network(seed, extreme, input_bits, length)
    assert compared > 0


def test_values_beyond_float32_are_exact():
    """Extreme 8-bit weights on 12-bit inputs give values beyond 2^24, where float32 would be wrong."""
    largest = [check_random_network(seed, True, 12, 32)[1] for seed in range(6)]
    assert max(largest) > FLOAT32_EXACT
    rng = np.random.default_rng(0)
    doc = random_document(rng, n_weight_layers=2, extreme_weights=True, input_bits=12, bits=(8, 8))
    network = load_network(doc)
    profiles = adversarial_profiles(rng, 12, 8, 32)
    acc = golden.layer_outputs(network, profiles)[0]
    requant = network.layers[1]
    prod = acc * requant.multiplier + requant.rounding
    in_float32 = acc.astype(np.float32) * requant.multiplier.astype(np.float32) + np.float32(requant.rounding)
    assert np.abs(prod).max() > FLOAT32_EXACT
    assert np.any(prod != in_float32.astype(np.int64)), "these inputs would not catch a float32 implementation"
    compare(model_from_document(doc), network, profiles)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return tiny_trained(tmp_path_factory.mktemp("tiny"))


def test_trained_model_matches_golden(trained):
    doc = export_document(trained.model, HeadConfig(threshold=10, frac_bits=8))
    network = load_network(doc)
    profiles, _ = tiny_data(200, 3)
    profiles = np.concatenate([profiles.astype(np.int64), adversarial_profiles(np.random.default_rng(1), 8, 4, 64)])
    set_integer_mode(trained.model, True)
    try:
        compared = compare(trained.model, network, profiles)
        assert compared == profiles.size + 2 * len(profiles)
        assert negative_control(trained.model, doc, network, profiles) > 0
    finally:
        set_integer_mode(trained.model, False)


@pytest.mark.slow
@pytest.mark.parametrize("bits", ["8/8", "2/2", "6-4-4-6/4-3-3"])
def test_trained_models_at_every_precision_match_golden(bits, tmp_path):
    trained = tiny_trained(tmp_path, bits)
    doc = export_document(trained.model, HeadConfig(threshold=0, frac_bits=8))
    network = load_network(doc)
    profiles = np.concatenate([tiny_data(2000, 11)[0].astype(np.int64),
                               adversarial_profiles(np.random.default_rng(2), 8, 16, 64)])
    set_integer_mode(trained.model, True)
    assert compare(trained.model, network, profiles) == profiles.size + 2 * len(profiles)
    assert negative_control(trained.model, doc, network, profiles) > 0

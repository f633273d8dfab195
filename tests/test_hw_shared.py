"""Shared-subexpression arithmetic: the adder-graph IR computes W.x exactly, never needs more adders than
per-output trees, keeps its depth bound, places registers by delay, and the MyHDL design built with it
equals the golden model (exact equality, negative controls, counts)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_hw_top import assert_exact, changed_by_one, stress_profiles, trained_like_document
from workbench.errors import ConfigError
from workbench.hw.adder_graph import adder_count, evaluate
from workbench.hw.adder_tree import SumSpec, Term
from workbench.hw.csd import csd_digits
from workbench.hw.cse import DEFAULT_DEPTH_SLACK, product_graph
from workbench.hw.mac import conv_sums
from workbench.hw.schedule import critical_delay_ns, place_registers, stage_delays
from workbench.hw.stream import Fmt
from workbench.hw.top import build_top
from workbench.qnn import contract
from workbench.qnn.randnet import random_document
from workbench.verify.harness import compare, run_design


def matrix_sums(weights: np.ndarray, bias: np.ndarray) -> list[SumSpec]:
    """`bias[o] + sum_i weights[i, o] * x_i` as canonical-signed-digit sums (ranges unused here)."""
    return [SumSpec(tuple(Term(i, shift, sign) for i in range(weights.shape[0])
                          for shift, sign in csd_digits(int(weights[i, o]))), int(bias[o]), Fmt(-1, 1))
            for o in range(weights.shape[1])]


def tree_adders(weights: np.ndarray, bias: np.ndarray) -> int:
    """Adders of one CSD adder tree per output: digits + constant - 1, plus a negation when no operand is positive."""
    total = 0
    for o in range(weights.shape[1]):
        signs = [sign for i in range(weights.shape[0]) for _, sign in csd_digits(int(weights[i, o]))]
        operands = len(signs) + (bias[o] != 0)
        total += max(operands - 1, 0) + (bool(signs) and bias[o] == 0 and max(signs) < 0)
    return total


matrices = st.integers(1, 6).flatmap(lambda rows: st.integers(1, 6).flatmap(lambda cols: st.tuples(
    st.lists(st.lists(st.integers(-127, 127), min_size=cols, max_size=cols), min_size=rows, max_size=rows),
    st.lists(st.integers(-300, 300), min_size=cols, max_size=cols), st.integers(1, 12))))


def _inputs(rows: int, bits: int, seed: int) -> np.ndarray:
    """Unit vectors (every weight shows on its own), extremes and random values of `bits`-bit signed inputs."""
    rng = np.random.default_rng(seed)
    hi = (1 << (bits - 1)) - 1
    return np.concatenate([np.eye(rows, dtype=np.int64), np.full((1, rows), hi), np.full((1, rows), -hi - 1),
                           rng.integers(-hi - 1, hi + 1, size=(8, rows))])


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, share=st.booleans())
def test_graph_evaluates_to_the_matrix_product_exactly(matrix, share: bool) -> None:
    weights, bias, bits = np.array(matrix[0], dtype=np.int64), np.array(matrix[1], dtype=np.int64), matrix[2]
    graph = product_graph(matrix_sums(weights, bias), (Fmt(-(1 << (bits - 1)), (1 << (bits - 1)) - 1),) * len(weights),
                          share=share)
    x = _inputs(len(weights), bits, seed=bits)
    got = evaluate(graph, x)
    expected = x.astype(object) @ weights.astype(object) + bias.astype(object)
    assert got.shape == expected.shape == (len(x), weights.shape[1])  # every output of every input row compared
    assert np.array_equal(got, expected)
    # negative control: the product of a matrix with one weight moved by 1 differs on the unit vectors
    moved = weights.copy()
    moved[0, 0] += 1
    assert np.any(got != x.astype(object) @ moved.astype(object) + bias.astype(object))


@settings(max_examples=80, deadline=None)
@given(matrix=matrices)
def test_sharing_never_needs_more_adders_than_per_output_trees(matrix) -> None:
    weights, bias = np.array(matrix[0], dtype=np.int64), np.array(matrix[1], dtype=np.int64)
    sums, fields = matrix_sums(weights, bias), (Fmt(-128, 127),) * len(weights)
    trees = product_graph(sums, fields, share=False)
    shared = product_graph(sums, fields)
    assert adder_count(trees) == tree_adders(weights, bias)
    assert adder_count(shared) <= adder_count(trees)
    widest = max(len(s.terms) + (s.const != 0) for s in sums)
    assert max(shared.depths()) <= (widest - 1).bit_length() + DEFAULT_DEPTH_SLACK


def test_common_subexpressions_are_computed_once() -> None:
    # every output contains x0 + 2 x1, and no other pair twice: trees need 1 + 2 + 2 adders, sharing
    # computes x0 + 2 x1 once and adds 4 x2 or 16 x2 to it for the last two outputs
    weights = np.array([[1, 1, 1], [2, 2, 2], [0, 4, 16]])
    sums, fields = matrix_sums(weights, np.zeros(3, dtype=np.int64)), (Fmt(0, 255),) * 3
    assert adder_count(product_graph(sums, fields, share=False)) == 1 + 2 + 2
    assert adder_count(product_graph(sums, fields)) == 1 + 1 + 1


def test_lanes_are_solved_once_and_translated() -> None:
    rng = np.random.default_rng(3)
    weights = rng.integers(-7, 8, size=(3, 2, 4))  # (taps, in channels, out channels): a k=3 convolution
    lanes, channels = 3, 2
    sums = [SumSpec(tuple(Term((j + t) * channels + c, shift, sign) for t in range(3) for c in range(channels)
                          for shift, sign in csd_digits(int(weights[t, c, o]))), o, Fmt(-1, 1))
            for j in range(lanes) for o in range(4)]
    fields = (Fmt(0, 15),) * ((lanes + 2) * channels)
    graph = product_graph(sums, fields, lanes)
    one_lane = product_graph(sums[:4], fields)
    assert adder_count(graph) == lanes * adder_count(one_lane)
    x = np.random.default_rng(4).integers(0, 16, size=(20, len(fields)))
    flat = weights.reshape(-1, 4).astype(object)
    expected = np.concatenate([x[:, j * channels:(j + 3) * channels].astype(object) @ flat + np.arange(4)
                               for j in range(lanes)], axis=1)
    assert np.array_equal(evaluate(graph, x), expected) and expected.size == 20 * lanes * 4


def test_registers_are_placed_by_delay() -> None:
    network = contract.load_network(trained_like_document())
    layer = network.conv_layers[1]
    graph = product_graph(conv_sums(layer, 1), (Fmt(0, 15),) * (layer.kernel_size * layer.in_channels))
    n_inputs, whole = len(graph.inputs), critical_delay_ns(graph)
    slowest = {}
    for stages in (1, 2, 3, 4):
        stage = place_registers(graph, stages)
        for k, adder in enumerate(graph.adders):
            assert 1 <= stage[n_inputs + k] <= stages
            assert all(stage[op.value] <= stage[n_inputs + k] for op in adder.operands)
        slowest[stages] = max(stage_delays(graph, stage))
        assert slowest[stages] >= whole / stages - 1e-9  # no placement beats an even split
    assert slowest[1] == pytest.approx(whole)
    assert slowest[1] > slowest[2] > slowest[3] >= slowest[4]


@pytest.mark.parametrize("lanes", [1, 4])
def test_shared_network_is_exact_and_weight_control_fails(lanes: int) -> None:
    doc = trained_like_document()
    network = contract.load_network(doc)
    length = 32
    profiles = stress_profiles(np.random.default_rng(lanes), 8, length, network.input_bits)
    assert_exact(build_top(network, lanes, length, pipeline_stages=3, arithmetic="shared"), profiles)
    broken = build_top(changed_by_one(doc, np.random.default_rng(lanes), "weight", profiles), lanes, length,
                       pipeline_stages=3, arithmetic="shared")
    result = compare(broken, profiles, run_design(broken, profiles), reference=network)
    assert result.compared == 8 * length + 8
    assert result.mismatches > 0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), lanes=st.sampled_from([1, 2]), stages=st.integers(1, 4),
       threshold_bits=st.sampled_from([0, 2]))
def test_random_networks_are_exact_with_shared_arithmetic(seed: int, lanes: int, stages: int,
                                                           threshold_bits: int) -> None:
    rng = np.random.default_rng(seed)
    network = contract.load_network(random_document(rng, max_channels=3, kernel_sizes=(1, 3, 5),
                                                    extreme_weights=bool(seed % 3 == 0)))
    full = network.input_range[1]
    profiles = rng.integers(0, full + 1, size=(5, 16))
    profiles[0], profiles[1] = 0, full
    design = build_top(network, lanes, 16, pipeline_stages=stages, threshold_bits=threshold_bits,
                       arithmetic="shared")
    assert_exact(design, profiles, gap_probability=0.2 if seed % 2 else 0.0, seed=seed)


def test_unknown_arithmetic_is_a_config_error() -> None:
    network = contract.load_network(trained_like_document())
    with pytest.raises(ConfigError, match="'dsp'.*trees, shared"):
        build_top(network, 1, 16, arithmetic="dsp")

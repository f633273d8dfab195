"""The classical detector in hardware (`workbench.hw.br_top`) against its golden model, in MyHDL and in
the converted VHDL and Verilog (GHDL, Icarus, Verilator)."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.data import signals
from workbench.errors import ConfigError
from workbench.hdl.package import write_package
from workbench.hw.br_top import build_br_top
from workbench.qnn.br8_integer import BRInteger
from workbench.qnn.refinement import REFINEMENTS, Refinement, box_taps
from workbench.verify.br_check import br_design, br_vectors, compare_br
from workbench.verify.harness import latencies, run_design
from hdl_fixtures import passes_in_every_simulator

LENGTH = 64
CONFIG = BRInteger(threshold=16)


def noisy_profiles(count: int, seed: int, preset: str = "mixed") -> np.ndarray:
    """Generated profiles, the first four replaced by edge cases: flat, a peak at either end, two equal peaks."""
    profiles, _ = signals.generate(signals.preset(preset, length=LENGTH), count, seed=seed)
    profiles[:4] = 0
    profiles[0] = 7
    profiles[1, 0] = profiles[2, -1] = 200
    profiles[3, 1] = profiles[3, -2] = 255
    return profiles


@pytest.mark.parametrize("lanes, gaps", [(1, 0.0), (1, 0.3), (4, 0.0), (8, 0.3)])
def test_myhdl_equals_golden_with_constant_latency(lanes: int, gaps: float) -> None:
    profiles = noisy_profiles(16, seed=3)
    profiles[4, 10] = profiles[4, 11] = 255  # equal maxima in one beat: the lower lane wins
    design = br_design(CONFIG, LENGTH, pipeline_stages=2, lanes=lanes)
    run = run_design(design, profiles, gap_probability=gaps, seed=1)
    result = compare_br(CONFIG, profiles, run)
    assert result.mismatches == 0, result.first_mismatch
    assert (result.scores_compared, result.results_compared) == (16 * LENGTH, 16)
    assert result.first_mismatch == ""
    expected = br_vectors(CONFIG, profiles)
    assert 0 < expected.found.sum() < 16  # found and not found both checked
    score_latency, result_latency = latencies(run, LENGTH // lanes)
    if not gaps:  # back to back: constant latencies, one result every L / P cycles
        assert set(score_latency) == {design.latency} and set(result_latency) == {design.result_latency}
        assert run.cycles_per_profile == LENGTH // lanes


def test_other_taps_and_precision_are_exact_and_a_wrong_model_is_caught() -> None:
    profiles = noisy_profiles(12, seed=5, preset="snr_8")
    config = BRInteger(refinement=Refinement("dog2", REFINEMENTS["dog2"].taps, 5), threshold=100)
    run = run_design(br_design(config, LENGTH), profiles, gap_probability=0.2, seed=4)
    assert compare_br(config, profiles, run).mismatches == 0
    wrong = BRInteger(refinement=Refinement("dog2", REFINEMENTS["dog2"].taps, 6), threshold=100)  # another F
    assert compare_br(wrong, profiles, run).result_mismatches > 0
    other_taps = BRInteger(refinement=Refinement("tri4", REFINEMENTS["tri4"].taps, 5), threshold=100)
    assert compare_br(other_taps, profiles, run).score_mismatches > 0


@pytest.mark.parametrize("length, bits, threshold, frac_bits, order", [
    (5, 8, -3, 8, 8),  # shorter than the derivative window: every tap replicated, every threshold passes
    (12, 8, 5000, 8, 8),  # a threshold above every slope
    (16, 12, 40, 10, 8),  # 12-bit input, F = 10
    (10, 4, 1, 2, 4),  # BR4 on 4-bit input: every crossing passes
])
def test_uniform_noise_short_profiles_and_other_depths(length: int, bits: int, threshold: int, frac_bits: int,
                                                       order: int) -> None:
    rng = np.random.default_rng(length)
    profiles = rng.integers(0, 1 << bits, size=(30, length))
    profiles[:5] = rng.integers(0, 3, size=(5, length))  # nearly flat
    profiles[5] = (1 << bits) - 1  # saturated
    config = BRInteger(refinement=Refinement(f"br{order}", box_taps(order), frac_bits), threshold=threshold,
                       input_bits=bits)
    run = run_design(br_design(config, length, 2), profiles, gap_probability=0.4, seed=3)
    result = compare_br(config, profiles, run)
    assert result.mismatches == 0, result.first_mismatch
    assert result.compared == 30 * length + 30


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="lanes is 33"):
        build_br_top(box_taps(8), 8, 16, LENGTH, lanes=33)
    with pytest.raises(ConfigError, match="profile length 64 invalid; allowed a multiple of the 3 lanes"):
        build_br_top(box_taps(8), 8, 16, LENGTH, lanes=3)
    with pytest.raises(ConfigError, match=r"taps \(1, 0, -1\) invalid"):
        build_br_top((1, 0, -1), 8, 16, LENGTH)
    with pytest.raises(ConfigError, match="frac_bits 17 invalid"):
        build_br_top(box_taps(8), 17, 16, LENGTH)
    with pytest.raises(ConfigError, match="threshold 1.5 invalid"):
        build_br_top(box_taps(8), 8, 1.5, LENGTH)


@pytest.mark.parametrize("lanes", [1, 4])
def test_converted_hdl_equals_golden_in_every_simulator(tmp_path, lanes: int) -> None:
    profiles = noisy_profiles(6, seed=7)
    design = br_design(CONFIG, LENGTH, pipeline_stages=2, lanes=lanes)
    vectors = br_vectors(CONFIG, profiles)
    package = write_package(design, tmp_path / "hdl", vectors)
    wrong = br_vectors(BRInteger(threshold=16, refinement=Refinement("br8", box_taps(8), 7)), profiles)
    bad = write_package(design, tmp_path / "bad", wrong)  # the vectors of another F: a negative control
    assert vectors.value_count == 6 * LENGTH + 12
    passes_in_every_simulator(package, bad.vectors, vectors.value_count)

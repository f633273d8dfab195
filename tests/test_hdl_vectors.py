"""The vector files written with numpy (workbench.verify.vectors) equal a line-by-line reading of
their format, negative scores and words wider than 64 bits included, and the gap variant holds the
same beats with idle clocks between them."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.verify.beats import pack_lanes, profile_clocks
from workbench.verify.vectors import (EXPECTED_RESULTS, EXPECTED_SCORES, STIMULUS, STIMULUS_GAPS, VectorSet,
                                      hex_digits, write_vectors)

from hdl_fixtures import fixture_design


def _random_vectors(rng: np.random.Generator, design, count: int) -> VectorSet:
    length, sw = design.profile_length, design.score_bits
    scores = rng.integers(-(1 << (sw - 1)), 1 << (sw - 1), size=(count, length))
    return VectorSet(rng.integers(0, 1 << design.in_bits, size=(count, length)), scores,
                     rng.integers(0, 2, size=count), rng.integers(0, 1 << design.pos_bits, size=count))


def _reference_lines(design, vectors: VectorSet) -> dict[str, list[str]]:
    """The files' lines formatted one Python int at a time."""
    lanes = design.lanes
    data, score = hex_digits(lanes * design.in_bits), hex_digits(lanes * design.score_bits)
    stimulus = []
    for profile in vectors.profiles:
        beats = profile.reshape(-1, lanes)
        stimulus += [f"1 {int(k == 0)} {int(k == len(beats) - 1)} {pack_lanes(beat, design.in_bits):0{data}x}"
                     for k, beat in enumerate(beats)]
    scores = [f"{pack_lanes(beat, design.score_bits):0{score}x}" for beat in vectors.scores.reshape(-1, lanes)]
    results = [f"{int(f)} {int(p):0{hex_digits(design.pos_bits)}x}" for f, p in zip(vectors.found, vectors.pos)]
    return {STIMULUS: stimulus, EXPECTED_SCORES: scores, EXPECTED_RESULTS: results}


@pytest.mark.parametrize("lanes", [1, 4, 8])
def test_vector_files_equal_a_line_by_line_reading(tmp_path, lanes):
    design = fixture_design(lanes=lanes)
    vectors = _random_vectors(np.random.default_rng(lanes), design, 9)
    assert vectors.scores.min() < 0 and (lanes < 8 or lanes * design.score_bits > 64)
    write_vectors(tmp_path, design, vectors)
    compared = 0
    for name, lines in _reference_lines(design, vectors).items():
        written = (tmp_path / name).read_text().splitlines()
        assert written == lines
        compared += len(lines)
    assert compared == 9 * 16 // lanes * 2 + 9

    broken = VectorSet(vectors.profiles, vectors.scores + np.eye(9, 16, dtype=np.int64), vectors.found, vectors.pos)
    write_vectors(tmp_path / "broken", design, broken)
    assert (tmp_path / "broken" / EXPECTED_SCORES).read_text().splitlines() != _reference_lines(
        design, vectors)[EXPECTED_SCORES]


def test_gap_stimulus_holds_the_same_beats_with_idle_clocks(tmp_path):
    design = fixture_design(lanes=2)
    vectors = _random_vectors(np.random.default_rng(0), design, 40)
    write_vectors(tmp_path, design, vectors, gap_seed=3, gap_share=0.3)
    beats = (tmp_path / STIMULUS).read_text().splitlines()
    gaps = (tmp_path / STIMULUS_GAPS).read_text().splitlines()
    idle = [line for line in gaps if line.startswith("0 ")]
    assert [line for line in gaps if not line.startswith("0 ")] == beats
    assert set(idle) == {"0 0 0 0000"} and 0.3 * len(beats) < len(idle) < 0.9 * len(beats)
    assert not gaps[-1].startswith("0 ")  # idle clocks only ever precede a beat

    parsed = [(int(v), int(u), int(t), int(d, 16)) for v, u, t, d in (line.split() for line in gaps)]
    # the one stream layer: the harness and the co-simulation drive exactly these clocks
    assert profile_clocks(vectors.profiles, design.lanes, design.in_bits, 3, 0.3) == parsed

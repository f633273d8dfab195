"""The hybrid detector's integer refinement (`workbench.qnn.refinement`) and the hybrid detector itself."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

from workbench.detectors import classical
from workbench.errors import ConfigError
from workbench.evaluation.detector_spec import build_detector
from workbench.qnn.contract import fill_ranges, load_network
from workbench.qnn.detector import golden_detector, hybrid_detector
from workbench.qnn.refinement import (REFINEMENTS, AdaptiveRefinement, Refinement, derivative, learn_adaptive,
                                      named_refinement, refine, widths)

LENGTH = 64
NOISELESS_BOUND_PX = 0.05  # worst |error| of every named refinement on the noiseless lines below (measured 0.03)


def noiseless_lines(centres: np.ndarray, sigma: float, peak: float = 200.0, background: float = 10.0) -> np.ndarray:
    """Pixel-integrated Gaussians (peak pixel about `peak` DN above `background`), rounded to whole DN."""
    i = np.arange(LENGTH)[None, :]
    scale = np.sqrt(2.0) * sigma
    area = 0.5 * (erf((i + 0.5 - centres[:, None]) / scale) - erf((i - 0.5 - centres[:, None]) / scale))
    return np.round(background + peak * area / erf(0.5 / scale)).astype(np.int64)


def exact_refine(refinement: Refinement, profile: list[int], p: int) -> int:
    """The module docstring's rule, read literally with Python integers (a loop, one profile)."""
    h, f = refinement.half, refinement.frac_bits
    n = len(profile)
    d = [sum(t * profile[min(max(i + k - h, 0), n - 1)] for k, t in enumerate(refinement.taps)) for i in range(n)]
    crossings = [i for i in range(p - refinement.radius, p + refinement.radius)
                 if 0 <= i and i + 1 < n and d[i] >= 0 > d[i + 1]]
    if not crossings:
        return p << f
    i = min(crossings, key=lambda j: abs(2 * (j - p) + 1))
    num, den = d[i], d[i] - d[i + 1]
    return (i << f) + (2 * num * (1 << f) + den) // (2 * den)


@pytest.mark.parametrize("name", sorted(REFINEMENTS))
def test_noiseless_lines_are_located_to_the_stated_bound(name: str) -> None:
    refinement = REFINEMENTS[name]
    rng = np.random.default_rng(1)
    compared = 0
    for sigma in (0.7, 1.0, 1.5, 2.0, 3.0):
        centres = rng.uniform(20, 44, 200)
        profiles = noiseless_lines(centres, sigma)
        pos = refine(refinement, profiles, np.argmax(profiles, axis=1)) / 2**refinement.frac_bits
        assert np.abs(pos - centres).max() <= NOISELESS_BOUND_PX, (name, sigma)
        compared += pos.size
    assert compared == 1000


@pytest.mark.parametrize("name", sorted(REFINEMENTS))
def test_integer_refinement_is_the_float_zero_crossing_rounded(name: str) -> None:
    """On noisy profiles the integer rule equals the float zero crossing of `classical` to half a unit."""
    refinement = REFINEMENTS[name]
    rng = np.random.default_rng(2)
    profiles = np.clip(noiseless_lines(rng.uniform(10, 54, 500), 1.5, peak=60.0)
                       + rng.normal(0, 6, (500, LENGTH)).round(), 0, 255).astype(np.int64)
    p = rng.integers(0, LENGTH, 500)  # any pixel, edges included
    pos = refine(refinement, profiles, p)
    floats = classical.zero_crossing(derivative(refinement, profiles).astype(np.float64), p, refinement.radius)
    unit = 2.0**-refinement.frac_bits
    assert np.abs(pos * unit - floats).max() <= unit / 2
    moved = pos != p << refinement.frac_bits
    assert moved.sum() > 250  # at least half the profiles have a crossing in reach of a random pixel
    expected = [exact_refine(refinement, row.tolist(), int(q)) for row, q in zip(profiles[:100], p[:100])]
    assert pos[:100].tolist() == expected


@pytest.mark.parametrize("input_bits", [8, 12, 16])
@pytest.mark.parametrize("name", sorted(REFINEMENTS))
def test_widths_are_exact_and_reached_at_full_scale(name: str, input_bits: int) -> None:
    refinement = REFINEMENTS[name]
    top = (1 << input_bits) - 1
    w = widths(refinement, input_bits)
    rising = np.where(np.arange(LENGTH) >= LENGTH // 2, top, 0)
    extremes = np.stack([rising, rising[::-1], np.full(LENGTH, top), np.zeros(LENGTH, dtype=np.int64),
                         np.where(np.abs(np.arange(LENGTH) - 32) <= refinement.half, top, 0)])
    d = derivative(refinement, extremes, input_bits)
    exact = np.array([[sum(t * int(row[min(max(i + k - refinement.half, 0), LENGTH - 1)])
                           for k, t in enumerate(refinement.taps)) for i in range(LENGTH)] for row in extremes])
    assert np.array_equal(d, exact) and d.size == 5 * LENGTH  # no wrap-around in int64
    assert d.max() == w.derivative_max and d.min() == -w.derivative_max  # the bound is reached
    signed = 1 << (w.derivative_bits - 1)
    assert -signed <= -w.derivative_max and w.derivative_max < signed and w.derivative_max >= signed // 2
    assert 2 * w.derivative_max < 1 << w.divisor_bits
    assert 2 * w.derivative_max * 2**refinement.frac_bits + 2 * w.derivative_max < 1 << w.dividend_bits
    assert w.quotient_bits == refinement.frac_bits + 1
    # the full-scale top-hat line: the largest divisor the crossing can see, computed exactly
    pos = refine(refinement, extremes[4:], np.array([32]), input_bits)
    assert pos.tolist() == [exact_refine(refinement, extremes[4].tolist(), 32)] and pos[0] == 32 << refinement.frac_bits


def test_taps_too_wide_for_int64_are_rejected() -> None:
    huge = Refinement("huge", (-(1 << 40), 0, 1 << 40))
    with pytest.raises(ConfigError, match="dividend wider"):
        derivative(huge, np.zeros((1, 8), dtype=np.int64), 16)


@pytest.mark.parametrize("taps, match", [
    ((-1, 1), "odd number"), ((-1, 0, 0.5), "odd number"), ((-1, 0, 2), "antisymmetric"),
    ((1, 0, -1), "positive first moment"), ((0, 0, 0), "positive first moment")])
def test_bad_taps_are_rejected(taps: tuple, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Refinement("bad", taps)


def test_bad_inputs_are_rejected() -> None:
    br8 = named_refinement("br8")
    good = np.zeros((2, 16), dtype=np.int64)
    with pytest.raises(ConfigError, match="frac_bits 17"):
        Refinement("bad", (-1, 0, 1), frac_bits=17)
    with pytest.raises(ConfigError, match=r"256 out of range; allowed 0\.\.255"):
        refine(br8, np.full((1, 16), 256), np.array([3]))
    with pytest.raises(ConfigError, match="out of range"):
        refine(br8, np.full((1, 16), -1), np.array([3]))
    with pytest.raises(ConfigError, match="integer samples"):
        refine(br8, np.full((1, 16), 1.5), np.array([3]))
    with pytest.raises(ConfigError, match="2-D array"):
        refine(br8, np.zeros(16, dtype=np.int64), np.array([3]))
    with pytest.raises(ConfigError, match=r"allowed 2 integers in 0\.\.15"):
        refine(br8, good, np.array([3, 16]))
    with pytest.raises(ConfigError, match="allowed 2 integers"):
        refine(br8, good, np.array([3]))
    with pytest.raises(ConfigError, match="allowed 2 integers"):
        refine(br8, good, np.array([3.0, 4.0]))
    with pytest.raises(ConfigError, match="unknown refinement 'br7'"):
        named_refinement("br7")
    with pytest.raises(ConfigError, match="input_bits 0"):
        widths(br8, 0)


@pytest.fixture()
def raw_network_document(tmp_path: Path) -> Path:
    """A one-layer network whose score is the raw input (weight 1), head without refinement: its position is
    the brightest pixel."""
    layer = {"type": "qconv1d", "name": "conv0", "kernel_size": 1, "in_channels": 1, "out_channels": 1,
             "weight_bits": 2, "weights": [[[1]]], "bias": [0]}
    doc = fill_ranges({"format": "qnn-int/1", "input": {"bits": 8}, "layers": [layer], "metadata": {"bits": "2/-"},
                       "head": {"type": "peak", "refine": "none", "window": 1, "threshold": 50, "frac_bits": 6}})
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(doc))
    return path


def test_hybrid_locates_with_the_refinement_and_gates_with_the_network(raw_network_document: Path) -> None:
    network = load_network(raw_network_document)
    br8 = named_refinement("br8")
    rng = np.random.default_rng(3)
    centres = rng.uniform(20, 44, 300)
    profiles = noiseless_lines(centres, 2.0)
    profiles[:50] = 10  # flat: no line, below the network's threshold
    hybrid = hybrid_detector("hybrid", network, br8, "2/-")
    network_only = golden_detector("network", network, "2/-")
    found, pos = hybrid.detect(profiles)
    net_found, net_pos = network_only.detect(profiles)
    assert np.array_equal(found, net_found) and found.sum() == 250  # gating is the network's
    want = refine(br8, profiles, np.argmax(profiles, axis=1)) / 2**br8.frac_bits
    assert np.array_equal(pos[found], want[found])
    errors = np.abs(pos - centres)[found]
    assert errors.max() <= NOISELESS_BOUND_PX
    # control: the network-only position (the whole pixel of its arg-max) is far worse
    assert np.abs(net_pos - centres)[found].max() > 0.4
    assert np.sum(pos[found] != net_pos[found]) > 200


def test_hybrid_spec_builds_the_hybrid(raw_network_document: Path) -> None:
    spec = f"hybrid:tri4:{raw_network_document}"
    built = build_detector(spec)
    assert built.detector.name == "hybrid_tri4_raw" and built.input_bits == 8 and built.detector.bits == "2/-"
    assert dict(built.detector.params) == {"refinement": "tri4"} and built.detector.threshold == 50
    default = build_detector(f"hybrid:{raw_network_document}").detector
    assert dict(default.params) == {"refinement": "br8"}
    profiles = noiseless_lines(np.array([30.3, 31.7]), 1.0)
    assert np.array_equal(built.detector.detect(profiles)[1],
                          refine(REFINEMENTS["tri4"], profiles, np.argmax(profiles, axis=1)) / 64)
    with pytest.raises(ConfigError, match="unknown refinement 'box'"):
        build_detector(f"hybrid:box:{raw_network_document}")
    with pytest.raises(ConfigError, match="allowed hybrid:"):
        build_detector("hybrid:br8:model.keras")
    with pytest.raises(ConfigError, match="classical methods only"):
        build_detector(spec, window=3)


def noisy_lines(rng: np.random.Generator, n: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(profiles, centres): lines of one width with Gaussian read noise (6 DN), whole DN in 0..255."""
    centres = rng.uniform(20, 44, n)
    noise = rng.normal(0, 6, (n, LENGTH)).round()
    return np.clip(noiseless_lines(centres, sigma, peak=120.0) + noise, 0, 255).astype(np.int64), centres


def test_adaptive_refinement_learns_a_member_per_width() -> None:
    rng = np.random.default_rng(4)
    narrow, narrow_centres = noisy_lines(rng, 400, 0.7)
    wide, wide_centres = noisy_lines(rng, 400, 3.0)
    profiles, centres = np.concatenate([narrow, wide]), np.concatenate([narrow_centres, wide_centres])
    bank = (REFINEMENTS["tri3"], REFINEMENTS["dog2.5"])
    pixel = np.argmax(profiles, axis=1)
    adaptive = learn_adaptive("adaptive", bank, profiles, pixel, centres, n_bins=2)
    assert len(adaptive.edges) == 1 and adaptive.choice == (1, 0)  # wide lines: low ratio, dog2.5; narrow: tri3
    bins = adaptive.bins(profiles, pixel)
    assert bins[:400].mean() > 0.9 and bins[400:].mean() < 0.1  # the probe tells the widths apart
    pos = adaptive.positions(profiles, pixel)
    members = [r.positions(profiles, pixel) for r in bank]
    assert np.array_equal(pos, np.where(bins == 1, members[0], members[1]))
    error = [np.sqrt(np.mean(np.minimum((p / 64 - centres) ** 2, 1))) for p in (pos, *members)]
    assert error[0] < min(error[1:])  # control: either member alone is worse on the mixture


def test_bad_adaptive_refinements_are_rejected() -> None:
    bank = (REFINEMENTS["tri3"], REFINEMENTS["dog2"])
    with pytest.raises(ConfigError, match="ascending"):
        AdaptiveRefinement("a", bank, (30, 20), (0, 1, 0))
    with pytest.raises(ConfigError, match="ascending"):
        AdaptiveRefinement("a", bank, (-1,), (0, 1))
    with pytest.raises(ConfigError, match="allowed 2 integers"):
        AdaptiveRefinement("a", bank, (30,), (0, 1)).bins(np.zeros((2, LENGTH), dtype=np.int64), np.array([0, 64]))
    with pytest.raises(ConfigError, match="choice"):
        AdaptiveRefinement("a", bank, (30,), (0, 2))
    with pytest.raises(ConfigError, match="choice"):
        AdaptiveRefinement("a", bank, (30,), (0,))
    with pytest.raises(ConfigError, match="one frac_bits"):
        AdaptiveRefinement("a", (REFINEMENTS["tri3"], Refinement("f8", (-1, 0, 1), frac_bits=8)), (), (0,))
    with pytest.raises(ConfigError, match="bins"):
        learn_adaptive("a", bank, np.zeros((3, LENGTH), dtype=np.int64), np.zeros(3, dtype=np.int64), np.zeros(3), 4)
